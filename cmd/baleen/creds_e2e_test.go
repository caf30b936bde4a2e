package main

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen/gitd/gittest"
)

// writeServerConfig writes yml as the server's config file and returns its path.
func (s *server) writeServerConfig(yml string) string {
	s.t.Helper()
	config := filepath.Join(s.data, "config.yml")
	if err := os.WriteFile(config, []byte(yml), 0o600); err != nil {
		s.t.Fatal(err)
	}
	return config
}

// shopperConfig is the part of a server config that makes the key shopper (its private key's path) the user
// shopper, a writer of shop-* and lab-*.
func shopperConfig(shopper string) string {
	return "users:\n  shopper: {key_files: [" + shopper + ".pub]}\n" +
		"access:\n  - {projects: [\"shop-*\", \"lab-*\"], users: [shopper], role: write}\n"
}

// TestServeCredentialsFetchKeyScoped stops a writer of any project from building (and reading the log of)
// every private repository the server's deploy key reaches, by naming it as an ssh:// dependency: a
// project under fetch_key_projects fetches it, one outside is refused, naming the setting, before the
// fetch key is used. The git host is this very server, reached by OpenSSH with the server's fetch key.
func TestServeCredentialsFetchKeyScoped(t *testing.T) {
	s := newServer(t)
	shopper := s.newKey("shopper")
	knownHosts := filepath.Join(s.data, "known_hosts") // the server's: a copy of what the client learned
	s.start("--config", s.writeServerConfig("known_hosts: "+knownHosts+"\nfetch_key_projects: [\"shop-*\"]\n"+
		shopperConfig(shopper)))
	private := s.newRepo(serviceFiles("private", "1", false))
	want(t, private.push(s.url("private"), "main"), 0, "PASSED")
	learned, err := os.ReadFile(filepath.Join(s.home, "known_hosts"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(knownHosts, learned, 0o600); err != nil {
		t.Fatal(err)
	}
	// The server's fetch key may read every project of the git host, as a deploy key often may.
	key := strings.TrimSpace(s.ssh("deploy-key").stdout)
	f, err := os.OpenFile(filepath.Join(s.data, "authorized_keys"), os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(key + "\n")
	f.Close()

	src := "ssh://git@127.0.0.1:" + s.port + "/private.git"
	dep := "  private:\n    src: " + src + "\n" + readyHTTP
	lab := s.newRepo(dependentFiles("lab-api", dep, "private"))
	refused := lab.pushWith(shopper, s.url("lab-api"), "main")
	want(t, refused, 1, "dependency private: fetch ssh://127.0.0.1:"+s.port+"/private.git: ssh sources are fetched with the server's fetch key, "+
		"which project lab-api may not use: the server's config lists the projects that may under fetch_key_projects", "(build #1 failed: dependencies)")
	if strings.Contains(refused.stderr, "reached private") {
		t.Errorf("lab-api ran with the private repository:\n%s", refused.stderr)
	}
	if projects := s.ssh("projects").stdout; strings.Contains(projects, "private-") {
		t.Errorf("the refused source made a project:\n%s", projects)
	}

	shop := s.newRepo(dependentFiles("shop-api", dep, "private"))
	want(t, shop.pushWith(shopper, s.url("shop-api"), "main"), 0, "created project private-", "fetching private-", "reached private v1", "PASSED")
}

// TestServeCredentialsGitLoginScoped stops a writer of any project from reading a private https repository
// with the server's login for its host: a project under the login's projects fetches it; one outside
// fetches anonymously, so the private repository refuses it, and the failure says why. The git host is git
// http-backend behind a TLS server that asks for the login.
func TestServeCredentialsGitLoginScoped(t *testing.T) {
	s := newServer(t)
	shopper := s.newKey("shopper")
	hosted := t.TempDir()
	s.newRepo(serviceFiles("private", "1", false)).git("clone", "-q", "--bare", ".", filepath.Join(hosted, "private.git"))
	base, logins := gittest.HTTPS(t, hosted, "ci", "s3cret-token") // before the server starts: it must trust the host
	host := strings.TrimPrefix(base, "https://")
	password := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(password, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start("--config", s.writeServerConfig("git_credentials:\n  \""+host+"\": {username: ci, password_file: "+password+", projects: [\"shop-*\"]}\n"+
		shopperConfig(shopper)))

	src, _ := url.JoinPath(base, "private.git")
	dep := "  private:\n    src: " + src + "\n" + readyHTTP
	shop := s.newRepo(dependentFiles("shop-api", dep, "private"))
	want(t, shop.pushWith(shopper, s.url("shop-api"), "main"), 0, "fetching private", "reached private v1", "PASSED")
	if logins.Load() == 0 {
		t.Fatal("shop-api's fetch sent no login")
	}

	before := logins.Load()
	lab := s.newRepo(dependentFiles("lab-api", dep, "private"))
	refused := lab.pushWith(shopper, s.url("lab-api"), "main")
	want(t, refused, 1, "dependency private: fetch "+src+": ", "(fetched without a login: no login under git_credentials for "+host+" is for project lab-api)",
		"(build #1 failed: dependencies)")
	if n := logins.Load(); n != before {
		t.Errorf("lab-api's fetch sent the login %d times", n-before)
	}
	if strings.Contains(refused.stderr, "s3cret-token") {
		t.Errorf("the push output shows the password:\n%s", refused.stderr)
	}
}

// TestServeDependencyLogIsASummary stops a reader of a project from reading a dependency's build output
// through the dependent's log: the dependent's stored log (ssh logs, the web, the API read it) holds one
// line per dependency build, while the dependency's own log stays under its project, for its readers;
// the pusher who named the dependency still watches its output live.
func TestServeDependencyLogIsASummary(t *testing.T) {
	s := newServer(t)
	reader := s.newKey("reader")
	s.start("--config", s.writeServerConfig("local_sources: ["+s.upstreamRoot()+"]\n"+
		"users:\n  reader: {key_files: ["+reader+".pub]}\n"+
		"access:\n  - {projects: [app], users: [reader], role: read}\n"))
	svc := s.upstream("svc", serviceFiles("svc", "1", false))
	app := s.newRepo(dependentFiles("app", "  svc:\n    src: file://"+svc.dir+"\n"+readyHTTP, "svc"))
	summary := "dependency svc: build #1 of svc passed (ssh HOST logs svc 1)"
	want(t, app.push(s.url("app"), "main"), 0, "remote: svc | svc tests pass", "remote: svc | PASSED", "remote: "+summary,
		"remote: reached svc v1", "remote: PASSED")

	logs := s.sshWith(reader, "logs", "app", "1")
	want(t, logs, 0, "--- svc: building svc main at "+svc.head()[:12], summary, "reached svc v1", "PASSED")
	for _, leak := range []string{"svc | ", "svc tests pass"} {
		if strings.Contains(logs.stdout, leak) {
			t.Errorf("app's log, read by reader, shows the dependency's output (%q):\n%s", leak, logs.stdout)
		}
	}
	want(t, s.sshWith(reader, "logs", "svc", "1"), 1, "needs the read role")
	want(t, s.ssh("logs", "svc", "1"), 0, "svc tests pass", "PASSED")
}
