package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/moby/moby/client"
)

// serviceFiles is a repository whose image serves "<name> v<version>" over HTTP on port 80 while it runs
// as a dependency, and whose own tests pass (or fail, when failing is set).
func serviceFiles(name, version string, failing bool) map[string]string {
	test := "#!/bin/sh\necho \"" + name + " tests pass\"\n"
	if failing {
		test = "#!/bin/sh\necho \"" + name + " tests fail\"\nexit 1\n"
	}
	return map[string]string{
		"Dockerfile": "FROM {{busybox}}\nWORKDIR /app\nCOPY . /app\nCMD [\"/app/serve.sh\"]\n",
		"serve.sh":   "#!/bin/sh\nmkdir -p /www && echo '" + name + " v" + version + "' > /www/index.html\nexec httpd -f -p 80 -h /www\n",
		"test.sh":    test,
		"baleen.yml": "build:\n  e2e-" + name + ": .\ntest:\n  command: [/app/test.sh]\n",
	}
}

// dependentFiles is a repository whose tests reach each named dependency by its hostname.
func dependentFiles(name string, depends string, hosts ...string) map[string]string {
	test := "#!/bin/sh\nset -e\n"
	for _, h := range hosts {
		test += "echo \"reached $(wget -q -O- http://" + h + "/)\"\n"
	}
	return map[string]string{
		"Dockerfile": "FROM {{busybox}}\nWORKDIR /app\nCOPY . /app\n",
		"test.sh":    test,
		"baleen.yml": "build:\n  e2e-" + name + ": .\ndepends:\n" + depends + "test:\n  command: [/app/test.sh]\n",
	}
}

// upstreamRoot is the directory of the test's upstream repositories.
func (s *server) upstreamRoot() string { return filepath.Join(filepath.Dir(s.data), "upstream") }

// localSourcesConfig writes a server config that lets dependencies be fetched from upstreamRoot, and
// returns its path.
func (s *server) localSourcesConfig() string {
	s.t.Helper()
	config := filepath.Join(s.data, "config.yml")
	if err := os.WriteFile(config, []byte("local_sources: ["+s.upstreamRoot()+"]\n"), 0o600); err != nil {
		s.t.Fatal(err)
	}
	return config
}

const readyHTTP = "    ready: {command: 'wget -q -O /dev/null http://127.0.0.1/', timeout: 60s}\n"

// upstream makes a repository outside the server, to be fetched by file:// URL or path: under
// upstreamRoot, which localSourcesConfig lets the server fetch from.
func (s *server) upstream(name string, files map[string]string) *repo {
	s.t.Helper()
	r := s.newRepo(files)
	if err := os.MkdirAll(s.upstreamRoot(), 0o755); err != nil {
		s.t.Fatal(err)
	}
	dir := filepath.Join(s.upstreamRoot(), name)
	if err := os.Rename(r.dir, dir); err != nil {
		s.t.Fatal(err)
	}
	r.dir = dir
	return r
}

func TestServeDependencies(t *testing.T) {
	s := newServer(t)
	s.start("--config", s.localSourcesConfig())

	// users: a project on this server. orders: a repository fetched by file:// URL, pinned by minhash.
	users := s.newRepo(serviceFiles("users", "1", false))
	want(t, users.push(s.url("users"), "main"), 0, "PASSED")
	orders := s.upstream("orders", serviceFiles("orders", "1", false))
	ordersFirst := orders.head()
	orders.write(map[string]string{"serve.sh": serviceFiles("orders", "2", false)["serve.sh"]})
	orders.commit("orders v2")

	api := s.newRepo(dependentFiles("api",
		"  users:\n    src: users\n"+readyHTTP+
			"  orders:\n    src: file://"+orders.dir+"\n    minhash: "+ordersFirst[:8]+"\n"+readyHTTP,
		"users", "orders"))
	push := api.push(s.url("api"), "main")
	want(t, push, 0, "remote: ==> dependencies", "reusing build #1 of users", "remote: created project orders",
		"contains minhash "+ordersFirst[:12], "remote: orders | build #1 of orders", "remote: orders | PASSED",
		"remote: reached users v1", "remote: reached orders v2", "remote: PASSED")
	bs := decodeBuilds(t, s.ssh("builds", "api", "--json").stdout)
	if len(bs) != 1 || len(bs[0].Dependencies) != 2 {
		t.Fatalf("api's build records: got %+v, want one build with two dependencies", bs)
	}
	for _, d := range bs[0].Dependencies {
		if d.Commit == "" || d.Build == 0 {
			t.Errorf("dependency record %+v lacks the commit or the build", d)
		}
	}
	if d := bs[0].Dependencies[1]; d.Project != "orders" || d.Commit != orders.head() || d.Branch != "main" || d.Reused {
		t.Errorf("orders record: got %+v, want orders main at %s, built", d, orders.head())
	}
	want(t, s.ssh("projects"), 0, "orders", "users", "api")
	want(t, s.ssh("report", "api", "1"), 0, "dependency orders: orders main at "+orders.head()+" (build #1, built)",
		"dependency users: users main at")

	// A second push of the dependent with unchanged dependencies builds no dependency.
	api.write(map[string]string{"README": "again"})
	api.commit("again")
	push = api.push(s.url("api"), "main")
	want(t, push, 0, "reusing build #1 of users", "reusing build #1 of orders", "PASSED")
	if strings.Contains(push.stderr, "orders | build #") {
		t.Errorf("second push built orders again:\n%s", push.stderr)
	}

	// A green push of users rebuilds api, which depends on it.
	users.write(map[string]string{"serve.sh": serviceFiles("users", "2", false)["serve.sh"]})
	users.commit("users v2")
	want(t, users.push(s.url("users"), "main"), 0, "rebuild of the projects that depend on it: api (main)")
	if got := s.waitFinal("api", 3); got != baleen.StatusPassed {
		t.Errorf("api's rebuild after users moved: got %s, want passed", got)
	}
	want(t, s.ssh("logs", "api", "3"), 0, "reached users v2")
	bs = decodeBuilds(t, s.ssh("builds", "api", "--json").stdout)
	if !strings.HasPrefix(bs[0].Pusher, "rebuild after users") {
		t.Errorf("api #3 pusher: got %q, want a rebuild after users", bs[0].Pusher)
	}

	// Another repository whose URL also ends in "users" never lands in the pushed project users.
	usersHead := s.remoteRef("users", "refs/heads/main")
	other := s.upstream("users", serviceFiles("users", "other", false))
	otherName := pipeline.DisambiguatedName("users", other.dir)
	clash := s.newRepo(dependentFiles("clash", "  users:\n    src: "+other.dir+"\n"+readyHTTP, "users"))
	want(t, clash.push(s.url("clash"), "main"), 0, "created project "+otherName, "reached users vother")
	if got := s.remoteRef("users", "refs/heads/main"); got != usersHead {
		t.Errorf("the pushed project users moved from %s to %s when a dependency of the same name was fetched", usersHead, got)
	}

	// minhash not in the branch: the build fails naming the commit and the head it checked.
	bad := s.newRepo(dependentFiles("pinned", "  orders:\n    src: file://"+orders.dir+"\n    minhash: 0123abcd\n", "orders"))
	want(t, bad.push(s.url("pinned"), "main"), 1, "dependency orders: minhash 0123abcd is not in the history of main (its head is "+orders.head()[:12]+")",
		"(build #1 failed: dependencies)")
}

func TestServeDependencyFailures(t *testing.T) {
	s := newServer(t)
	s.start("--config", s.localSourcesConfig())

	// A dependency whose own tests fail fails the dependent, naming it.
	broken := s.upstream("broken", serviceFiles("broken", "1", true))
	r := s.newRepo(dependentFiles("needs-broken", "  broken:\n    src: "+broken.dir+"\n", "broken"))
	want(t, r.push(s.url("needs-broken"), "main"), 1, "broken | broken tests fail", "dependency broken: build #1 of broken failed: test",
		"(build #1 failed: dependencies)")
	want(t, s.ssh("builds", "broken"), 0, "#1", "failed (test)")

	// A dependency without a baleen.yml.
	plain := s.upstream("plain", map[string]string{"README": "no pipeline here"})
	r = s.newRepo(dependentFiles("needs-plain", "  plain:\n    src: "+plain.dir+"\n", "plain"))
	want(t, r.push(s.url("needs-plain"), "main"), 1, "dependency plain: plain has no baleen.yml at "+plain.head()[:12])

	// A cycle: cyc-a needs cyc-b, which needs cyc-a.
	a := s.upstream("cyc-a", nil)
	b := s.upstream("cyc-b", dependentFiles("cyc-b", "  cyc-a:\n    src: "+a.dir+"\n", "cyc-a"))
	a.write(dependentFiles("cyc-a", "  cyc-b:\n    src: "+b.dir+"\n", "cyc-b"))
	a.commit("needs b")
	top := s.newRepo(dependentFiles("top", "  cyc-a:\n    src: "+a.dir+"\n", "cyc-a"))
	want(t, top.push(s.url("top"), "main"), 1, "dependency cycle: cyc-a -> cyc-b -> cyc-a")

	// A src that probes the server's files: a repository that exists outside local_sources (the server's
	// own data), and paths that do not exist, outside and inside, all read the same. No existence oracle.
	for i, src := range []string{filepath.Join(s.data, "repos", "top.git"), "/no/such/path", filepath.Join(s.upstreamRoot(), "nothing")} {
		r := s.newRepo(dependentFiles("probe", "  probe:\n    src: "+src+"\n", "probe"))
		push := r.push(s.url(fmt.Sprintf("probe-%d", i)), "main")
		shown := src
		if strings.HasPrefix(src, s.data) {
			shown = "top.git" // what a pusher reads names no path of the server
		}
		if strings.Contains(push.stderr, " for "+shown) { // "created project NAME for SRC"
			t.Errorf("a refused src %s made a project:\n%s", src, push.stderr)
		}
		want(t, push, 1, "dependency probe: src "+shown+": no repository that this server may fetch is there; a src on the server must lie under a directory that the server's config lists under local_sources")
	}
}

// TestBuildLocalDependencies: `baleen build` fetches repository dependencies into its cache and builds
// them first.
func TestBuildLocalDependencies(t *testing.T) {
	s := newServer(t) // for its repository helpers; no server runs
	users := s.upstream("localusers", serviceFiles("localusers", "7", false))
	app := s.newRepo(dependentFiles("localapp", "  localusers:\n    src: "+users.dir+"\n"+readyHTTP, "localusers"))
	t.Setenv("BALEEN_CACHE", t.TempDir())
	code, out, errOut := runCLI(t, nil, "build", "-artifacts", t.TempDir(), app.dir)
	removeBuildImages(t, out, "e2e-localapp")
	if code != exitOK {
		t.Fatalf("baleen build with a src dependency: got exit %d, want 0\n%s\n%s", code, out, errOut)
	}
	cached := pipeline.DisambiguatedName("localusers", users.dir)
	for _, w := range []string{"==> dependencies", "fetching " + cached, cached + " | PASSED", "reached localusers v7", "PASSED in"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	ctx := context.WithoutCancel(t.Context())
	id := baleen.BuildID("dep-" + cached + "-" + users.head()[:12])
	removeBuildImages(t, out, "e2e-localusers")
	t.Cleanup(func() {
		for _, ref := range []string{id.ImageTag("e2e-localusers"), "e2e-localusers:latest"} {
			s.engine.Client().ImageRemove(ctx, ref, client.ImageRemoveOptions{})
		}
	})
	// A second build reuses the green dependency by its per-commit tag.
	code, out, errOut = runCLI(t, nil, "build", "-artifacts", t.TempDir(), app.dir)
	removeBuildImages(t, out, "e2e-localapp")
	if code != exitOK || !strings.Contains(out, "localusers: reusing the images of "+cached) {
		t.Errorf("second local build: exit %d, want 0 and the dependency reused\n%s\n%s", code, out, errOut)
	}
}

// TestServeSSHDependency: an ssh:// dependency is fetched with the server's own key (ssh HOST deploy-key)
// and its host key is checked against the configured known_hosts; a changed host key is refused.
func TestServeSSHDependency(t *testing.T) {
	s := newServer(t)
	knownHosts := filepath.Join(s.data, "known_hosts") // the server's: a copy of what the client learned
	config := filepath.Join(s.data, "config.yml")
	os.WriteFile(config, []byte("known_hosts: "+knownHosts+"\n"), 0o600)
	s.start("--config", config)
	users := s.newRepo(serviceFiles("sshusers", "1", false))
	want(t, users.push(s.url("sshusers"), "main"), 0, "PASSED")
	learned, err := os.ReadFile(filepath.Join(s.home, "known_hosts"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(knownHosts, learned, 0o600)

	key := strings.TrimSpace(s.ssh("deploy-key").stdout)
	if !strings.HasPrefix(key, "ssh-ed25519 ") {
		t.Fatalf("deploy-key: got %q, want an ed25519 public key", key)
	}
	src := "ssh://git@127.0.0.1:" + s.port + "/sshusers.git"
	shown := "ssh://127.0.0.1:" + s.port + "/sshusers.git" // URLs are shown without their user part
	api := s.newRepo(dependentFiles("sshapi", "  sshusers:\n    src: "+src+"\n"+readyHTTP, "sshusers"))
	// Not yet authorized: the server's own key is refused like any other.
	want(t, api.push(s.url("sshapi"), "main"), 1, "dependency sshusers: fetch "+shown)
	f, err := os.OpenFile(filepath.Join(s.data, "authorized_keys"), os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(key + "\n")
	f.Close()
	api.write(map[string]string{"README": "authorized"})
	api.commit("authorized")
	want(t, api.push(s.url("sshapi"), "main"), 0, "fetching sshusers-", "reached sshusers v1", "PASSED")

	// The server's host key, as known_hosts has it, changes: the fetch is refused.
	other := s.newKey("impostor")
	pub, _ := os.ReadFile(other + ".pub")
	fields := strings.Fields(string(pub))
	os.WriteFile(knownHosts, []byte("[127.0.0.1]:"+s.port+" "+fields[0]+" "+fields[1]+"\n"), 0o600)
	api.write(map[string]string{"README": "impostor"})
	api.commit("impostor")
	want(t, api.push(s.url("sshapi"), "main"), 1, "dependency sshusers: fetch "+shown, "key mismatch")
}
