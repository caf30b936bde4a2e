package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
)

func decodeBuilds(t testing.TB, s string) []baleen.Build {
	t.Helper()
	var bs []baleen.Build
	if err := json.Unmarshal([]byte(s), &bs); err != nil {
		t.Fatalf("builds --json: %v\n%s", err, s)
	}
	return bs
}

// project files: image is the build image's name (unique per test, since tags like :latest are shared
// by the engine); test.sh is the test.
func projectFiles(image, test string) map[string]string {
	return map[string]string{
		"Dockerfile": "FROM {{busybox}}\nWORKDIR /app\nCOPY . /app\n",
		"baleen.yml": "build:\n  " + image + ": .\ntest:\n  command: [/app/test.sh]\nartifacts:\n  xunit: /app/out/junit.xml\n",
		"test.sh":    test,
	}
}

const greenTest = `#!/bin/sh
echo "hello from the tests"
mkdir -p /app/out
echo '<testsuite><testcase classname="app" name="works"/></testsuite>' > /app/out/junit.xml
`

const redTest = `#!/bin/sh
echo "this test fails"
mkdir -p /app/out
echo '<testsuite><testcase classname="app" name="works"><failure message="boom"/></testcase></testsuite>' > /app/out/junit.xml
exit 1
`

// gatedTest runs until the test releases it by creating /tmp/go in the container.
const gatedTest = `#!/bin/sh
echo "gated test started"
while [ ! -f /tmp/go ]; do sleep 0.1; done
echo "gated test released"
mkdir -p /app/out
echo '<testsuite><testcase classname="app" name="gated"/></testsuite>' > /app/out/junit.xml
`

func want(t *testing.T, r result, code int, texts ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("got exit %d, want %d\n%s", r.code, code, r)
	}
	for _, s := range texts {
		if !strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("output lacks %q\n%s", s, r)
		}
	}
}

func TestServePushAndCommands(t *testing.T) {
	s := newServer(t)
	s.start()
	r := s.newRepo(projectFiles("e2e-app", greenTest))
	green := r.head()

	push := r.push(s.url("app"), "main")
	want(t, push, 0, "remote: created project app", "remote: build #1 of app: main at "+green[:12],
		"remote: hello from the tests", "remote: tests: 1 passed, 0 failed, 0 skipped", "remote: PASSED in")
	if got := s.remoteRef("app", "refs/heads/main"); got != green {
		t.Errorf("main on the server: got %q, want %q", got, green)
	}
	if got := s.remoteRef("app", "refs/baleen/builds/1"); got != green {
		t.Errorf("refs/baleen/builds/1: got %q, want %q", got, green)
	}
	want(t, s.exec("", nil, "git", "--git-dir", filepath.Join(s.data, "repos", "app.git"), "fsck", "--strict"), 0)

	// A red build rejects the push and leaves the branch where it was.
	r.write(map[string]string{"test.sh": redTest})
	red := r.commit("break it")
	push = r.push(s.url("app"), "main")
	want(t, push, 1, "remote: this test fails", "! [remote rejected] main -> main (build #2 failed: test)")
	if got := s.remoteRef("app", "refs/heads/main"); got != green {
		t.Errorf("main after a red push: got %q, want it unchanged at %q", got, green)
	}
	if got := s.remoteRef("app", "refs/baleen/builds/2"); got != red {
		t.Errorf("refs/baleen/builds/2: got %q, want %q", got, red)
	}

	// The records, read back.
	want(t, s.ssh("projects"), 0, "app", "#2", "failed")
	want(t, s.ssh("builds", "app"), 0, "#2", "failed (test)", "#1", "passed", "1/1 passed")
	bs := decodeBuilds(t, s.ssh("builds", "app", "--json").stdout)
	if len(bs) != 2 || bs[0].Number != 2 || bs[0].Status != baleen.StatusFailed || bs[1].Status != baleen.StatusPassed || bs[1].Commit != green {
		t.Errorf("builds --json: got %+v, want #2 failed then #1 passed at %s", bs, green)
	}
	if bs[1].Pusher == "" || !strings.HasPrefix(bs[1].Pusher, "SHA256:") {
		t.Errorf("pusher: got %q, want the key's SHA256 fingerprint", bs[1].Pusher)
	}
	want(t, s.ssh("status", "app"), 0, "build #2 failed (test)", red)
	want(t, s.ssh("report", "app", "2"), 0, "tests: 0 passed, 1 failed", "FAIL app.works: boom")
	want(t, s.ssh("report", "app", "1", "--json"), 0, `"passed": 1`)
	want(t, s.ssh("logs", "app", "1"), 0, "hello from the tests", "PASSED in")
	want(t, s.ssh("logs", "app"), 0, "this test fails")
	art := s.ssh("artifacts", "app", "1", "--tar")
	want(t, art, 0)
	if names := tarNames(t, art.stdout); len(names) != 1 || names[0] != "xunit/junit.xml" {
		t.Errorf("artifacts tar: got %v, want [xunit/junit.xml]", names)
	}

	// Rebuild of the green commit.
	want(t, s.ssh("rebuild", "app", "1"), 0, "build #3 of app", "hello from the tests", "PASSED in")
	want(t, s.ssh("rebuild", "app", "main"), 0, "build #4 of app")

	// Wrong arguments and unknown things.
	want(t, s.ssh("builds"), 2, "usage: builds <project>")
	want(t, s.ssh("frobnicate"), 2, `unknown command "frobnicate"`)
	want(t, s.ssh("builds", "nosuch"), 1, `no project "nosuch"`)
	want(t, s.ssh("logs", "app", "99"), 1, "no build #99")
	want(t, s.ssh("logs", "app", "x"), 2, `logs: "x" is not a number`)
	want(t, s.ssh("help"), 0, "logs <project> [<build>] [-f]")
	want(t, s.ssh("cancel", "app", "1"), 1, "already ended")

	// Clone and fetch through upload-pack.
	clone := filepath.Join(t.TempDir(), "clone")
	want(t, s.exec("", append(gitEnv(s.home), "GIT_SSH_COMMAND="+s.gitSSH(s.key)), "git", "clone", "-q", s.url("app.git"), clone), 0)
	if got := strings.TrimSpace(s.exec(clone, nil, "git", "rev-parse", "HEAD").stdout); got != green {
		t.Errorf("clone HEAD: got %q, want %q", got, green)
	}

	// A branch without baleen.yml, a tag and a deletion: stored, nothing built.
	r.git("checkout", "-q", "-b", "plain")
	r.git("rm", "-q", "baleen.yml")
	plain := r.commit("no pipeline")
	want(t, r.push(s.url("app"), "plain"), 0, "plain: nothing to build")
	if got := s.remoteRef("app", "refs/heads/plain"); got != plain {
		t.Errorf("plain: got %q, want %q", got, plain)
	}
	r.git("tag", "v1", green)
	want(t, r.push(s.url("app"), "v1"), 0, "refs/tags/v1 stored; only branches are built")
	want(t, r.push(s.url("app"), ":plain"), 0, "refs/heads/plain deleted")
	if got := s.remoteRef("app", "refs/heads/plain"); got != "" {
		t.Errorf("plain after deletion: got %q, want no ref", got)
	}
	if got := s.ssh("builds", "app", "--json"); len(decodeBuilds(t, got.stdout)) != 4 {
		t.Errorf("builds after the plain pushes: got %s, want 4 builds", got.stdout)
	}
	// Pushing into Baleen's own records is refused.
	res := r.push(s.url("app"), red+":refs/baleen/builds/1")
	want(t, res, 1, "refs/baleen/ is reserved")
}

func tarNames(t *testing.T, s string) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(strings.NewReader(s))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatalf("artifacts tar: %v", err)
		}
		names = append(names, h.Name)
	}
}

// TestServeRefusals: keys the server does not know and project names that could leave the data dir.
func TestServeRefusals(t *testing.T) {
	s := newServer(t)
	s.start()
	r := s.newRepo(projectFiles("e2e-refuse", greenTest))
	stranger := s.newKey("stranger")
	want(t, r.pushWith(stranger, s.url("app"), "main"), 128, "Permission denied (publickey)")
	want(t, s.sshWith(stranger, "projects"), 255, "Permission denied (publickey)")

	for _, bad := range []string{"../evil", "Bad", "a/b", "-x", ".hidden", "x'y"} {
		res := r.push(s.url(bad), "main")
		if res.code == 0 {
			t.Errorf("push to %q: got exit 0, want a refusal\n%s", bad, res)
		}
		if !strings.Contains(res.stderr, "project name") {
			t.Errorf("push to %q: want a message about the project name\n%s", bad, res)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(s.data, "repos"))
	if len(entries) != 0 {
		t.Errorf("repos after refused pushes: got %d entries, want none", len(entries))
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(s.data), "evil.git")); err == nil {
		t.Error("a push to ../evil made a repository outside the data dir")
	}
}

// TestServeLiveOutputFollowAndDisconnect: output reaches the pusher while the build runs, `logs -f`
// follows it to its end, and a pusher that goes away does not stop the build or its ref from moving.
func TestServeLiveOutputFollowAndDisconnect(t *testing.T) {
	s := newServer(t)
	s.start()
	instance := readInstance(t, s.data)
	r := s.newRepo(projectFiles("e2e-live", gatedTest))

	cmd, stderr := r.startPush(s.url("live"), "main")
	waitLine(t, stderr, "remote: gated test started")
	// The line arrived while the build is still running: it cannot have been sent at the end.
	bs := decodeBuilds(t, s.ssh("builds", "live", "--json").stdout)
	if len(bs) != 1 || bs[0].Status != baleen.StatusRunning {
		t.Fatalf("while the push shows the test's first line: got builds %+v, want #1 running", bs)
	}
	follow := exec.Command("ssh", append(append([]string{}, s.sshArgs...), "git@127.0.0.1", "logs", "live", "-f")...)
	var followOut bytes.Buffer
	follow.Stdout = &followOut
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	s.release(baleen.BuildID("live-1-" + instance))
	rest := waitLine(t, stderr, "remote: PASSED in")
	if !strings.Contains(rest, "gated test released") {
		t.Errorf("push output after release lacks the test's last line:\n%s", rest)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("push: %v", err)
	}
	if err := follow.Wait(); err != nil {
		t.Errorf("logs -f: %v\n%s", err, followOut.String())
	}
	if !strings.Contains(followOut.String(), "gated test released") || !strings.Contains(followOut.String(), "PASSED in") {
		t.Errorf("logs -f output lacks the end of the build:\n%s", followOut.String())
	}

	// The pusher goes away mid-build.
	r.write(map[string]string{"README": "second"})
	second := r.commit("second")
	cmd, stderr = r.startPush(s.url("live"), "main")
	waitLine(t, stderr, "remote: gated test started")
	cmd.Process.Kill()
	cmd.Wait()
	s.release(baleen.BuildID("live-2-" + instance))
	if got := s.waitFinal("live", 2); got != baleen.StatusPassed {
		t.Fatalf("build #2 after its pusher left: got %s, want passed", got)
	}
	// The record ends just before gitd moves the ref, once the build has answered: wait for the ref.
	waitFor(t, "main to move to the disconnected green build", func() bool { return s.remoteRef("live", "refs/heads/main") == second })
}

func readInstance(t *testing.T, data string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(data, "instance"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestServeConcurrentPushesAndCancel: a second push to a project waits for the first and says so; a build
// can be cancelled, and its containers go.
func TestServeConcurrentPushesAndCancel(t *testing.T) {
	s := newServer(t)
	s.start()
	instance := readInstance(t, s.data)
	r := s.newRepo(projectFiles("e2e-queue", gatedTest))
	r.git("branch", "other")

	first, firstErr := r.startPush(s.url("queue"), "main")
	waitLine(t, firstErr, "remote: gated test started")
	second, secondErr := r.startPush(s.url("queue"), "other")
	waitLine(t, secondErr, "remote: waiting for build #1 of queue to finish")
	s.release(baleen.BuildID("queue-1-" + instance))
	waitLine(t, firstErr, "remote: PASSED")
	waitLine(t, secondErr, "remote: gated test started")
	s.release(baleen.BuildID("queue-2-" + instance))
	waitLine(t, secondErr, "remote: PASSED")
	if err := first.Wait(); err != nil {
		t.Errorf("first push: %v", err)
	}
	if err := second.Wait(); err != nil {
		t.Errorf("second push: %v", err)
	}

	r.write(map[string]string{"README": "cancel me"})
	r.commit("to cancel")
	third, thirdErr := r.startPush(s.url("queue"), "main")
	waitLine(t, thirdErr, "remote: gated test started")
	want(t, s.ssh("cancel", "queue"), 0, "cancelling build #3 of queue")
	rest := waitLine(t, thirdErr, "build #3 cancelled")
	if !strings.Contains(rest, "[remote rejected]") {
		t.Errorf("cancelled push output:\n%s", rest)
	}
	third.Wait()
	// A cancelled build's teardown is detached from it (its queue is freed at once): wait for it.
	waitFor(t, "the cancelled build's containers and network to go", func() bool {
		return len(dockertest.Leftovers(t, baleen.BuildID("queue-3-"+instance))) == 0
	})
	if got := s.waitFinal("queue", 3); got != baleen.StatusCancelled {
		t.Errorf("build #3: got %s, want cancelled", got)
	}
}

// TestServeRestarts: records and the host key survive a clean restart; a kill -9 mid-build leaves the
// build interrupted after the next start, with its containers removed.
func TestServeRestarts(t *testing.T) {
	s := newServer(t)
	s.start()
	instance := readInstance(t, s.data)
	r := s.newRepo(projectFiles("e2e-restart", greenTest))
	want(t, r.push(s.url("keep"), "main"), 0, "PASSED")

	s.stop(syscall.SIGTERM)
	if !strings.Contains(s.log.String(), "shutting down") {
		t.Errorf("server log lacks the shutdown:\n%s", s.log.String())
	}
	s.start()
	// known_hosts pinned the first host key (accept-new): a new key would fail this.
	want(t, s.ssh("builds", "keep"), 0, "#1", "passed")

	r.write(map[string]string{"test.sh": gatedTest})
	r.commit("gated")
	cmd, stderr := r.startPush(s.url("keep"), "main")
	waitLine(t, stderr, "remote: gated test started")
	s.stop(syscall.SIGKILL)
	cmd.Wait()
	s.start()
	bs := decodeBuilds(t, s.ssh("builds", "keep", "--json").stdout)
	if len(bs) != 2 || bs[0].Status != baleen.StatusInterrupted || bs[1].Status != baleen.StatusPassed {
		t.Errorf("after kill -9 and restart: got %+v, want #2 interrupted, #1 passed", bs)
	}
	if left := dockertest.Leftovers(t, baleen.BuildID("keep-2-"+instance)); len(left) != 0 {
		t.Errorf("after restart: got leftovers %v of the killed build, want none", left)
	}
	// The log of the killed build stays readable. Its last second of output may be lost: the store commits
	// a quiet build's output within a second (store's TestLogCommitsWhenQuiet), and this kill came sooner.
	want(t, s.ssh("logs", "keep", "2"), 0)
}

// TestServeShutdownGrace: SIGTERM lets a running build finish within the grace period; past it, the build
// is interrupted and cleaned up.
func TestServeShutdownGrace(t *testing.T) {
	s := newServer(t)
	config := filepath.Join(s.data, "config.yml")
	os.WriteFile(config, []byte("shutdown_grace: 10m\n"), 0o600)
	s.start("--config", config)
	instance := readInstance(t, s.data)
	r := s.newRepo(projectFiles("e2e-grace", gatedTest))
	cmd, stderr := r.startPush(s.url("grace"), "main")
	waitLine(t, stderr, "remote: gated test started")
	s.cmd.Process.Signal(syscall.SIGTERM)
	// The server no longer takes connections, but the running build goes on.
	waitFor(t, "the server to refuse connections", func() bool { return s.ssh("projects").code != 0 })
	s.release(baleen.BuildID("grace-1-" + instance))
	waitLine(t, stderr, "remote: PASSED")
	if err := cmd.Wait(); err != nil {
		t.Errorf("push during shutdown: %v", err)
	}
	<-s.done

	os.WriteFile(config, []byte("shutdown_grace: 1s\n"), 0o600)
	s.start("--config", config)
	r.write(map[string]string{"README": "too slow"})
	r.commit("too slow")
	cmd, stderr = r.startPush(s.url("grace"), "main")
	waitLine(t, stderr, "remote: gated test started")
	s.cmd.Process.Signal(syscall.SIGTERM)
	rest := waitLine(t, stderr, "build #2 interrupted")
	if !strings.Contains(rest, "[remote rejected]") {
		t.Errorf("push past the grace period:\n%s", rest)
	}
	cmd.Wait()
	<-s.done
	if left := dockertest.Leftovers(t, baleen.BuildID("grace-2-"+instance)); len(left) != 0 {
		t.Errorf("after the grace period: got leftovers %v, want none", left)
	}
	s.start("--config", config)
	bs := decodeBuilds(t, s.ssh("builds", "grace", "--json").stdout)
	if len(bs) != 2 || bs[0].Status != baleen.StatusInterrupted || bs[1].Status != baleen.StatusPassed {
		t.Errorf("builds after the shutdowns: got %+v, want #2 interrupted, #1 passed", bs)
	}
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestServeSCPStyleRemote: a remote written scp-style through an ~/.ssh/config alias, as people set it up.
func TestServeSCPStyleRemote(t *testing.T) {
	s := newServer(t)
	s.start()
	config := filepath.Join(s.home, "ssh_config")
	os.WriteFile(config, []byte("Host baleen-alias\n  HostName 127.0.0.1\n  Port "+s.port+"\n  User git\n  IdentityFile "+s.key+
		"\n  IdentitiesOnly yes\n  BatchMode yes\n  StrictHostKeyChecking accept-new\n  UserKnownHostsFile "+filepath.Join(s.home, "known_hosts")+"\n"), 0o600)
	r := s.newRepo(projectFiles("e2e-scp", greenTest))
	env := append(gitEnv(s.home), "GIT_SSH_COMMAND=ssh -F "+config)
	for _, remote := range []string{"baleen-alias:scp", "baleen-alias:scp.git", "baleen-alias:/scp.git"} {
		r.write(map[string]string{"README": remote})
		head := r.commit(remote)
		res := s.exec(r.dir, env, "git", "push", remote, "main")
		want(t, res, 0, "remote: PASSED")
		if got := s.remoteRef("scp", "refs/heads/main"); got != head {
			t.Errorf("push to %s: main is %q, want %q", remote, got, head)
		}
	}
	res := s.exec("", env, "git", "clone", "-q", "baleen-alias:scp", filepath.Join(t.TempDir(), "c"))
	want(t, res, 0)
}
