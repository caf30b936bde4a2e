package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/docker"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
	"github.com/moby/moby/client"
)

// server is a `baleen serve` process under test, with a client key it authorizes and the ssh settings to
// reach it.
type server struct {
	t       testing.TB
	data    string
	addr    string
	port    string
	cmd     *exec.Cmd
	log     *lockedBuffer
	done    chan struct{}
	home    string // the client's HOME: its key and known_hosts
	key     string
	sshArgs []string
	engine  *docker.Engine
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newServer prepares a data dir and a client key; start runs the process.
func newServer(t testing.TB) *server {
	t.Helper()
	if testing.Short() {
		t.Skip("end to end: needs Docker and the git and ssh clients; -short runs without them")
	}
	for _, tool := range []string{"git", "ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is required (apt-get install git openssh-client): %v", tool, err)
		}
	}
	s := &server{t: t, data: t.TempDir(), home: t.TempDir(), engine: dockertest.Engine(t)}
	removeServerImages(s)
	s.key = s.newKey("id_ed25519")
	authorized, err := os.ReadFile(s.key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.data, "authorized_keys"), authorized, 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// newKey makes an ed25519 key pair in the client's home and returns the private key's path.
func (s *server) newKey(name string) string {
	s.t.Helper()
	p := filepath.Join(s.home, name)
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", p).CombinedOutput(); err != nil {
		s.t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	return p
}

// start runs `baleen serve` on 127.0.0.1:0 and waits until it writes the address it listens on to its
// address file.
func (s *server) start(extra ...string) {
	s.t.Helper()
	addrFile := filepath.Join(s.t.TempDir(), "address")
	args := append([]string{"serve", "--data", s.data, "--listen", "127.0.0.1:0", "--address-file", addrFile}, extra...)
	s.cmd = exec.Command(os.Args[0], args...)
	s.cmd.Env = append(os.Environ(), "BALEEN_TEST_MAIN=1")
	s.log = &lockedBuffer{}
	pr, pw := io.Pipe()
	s.cmd.Stderr = pw
	s.cmd.Stdout = s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.done = make(chan struct{})
	go func() {
		s.cmd.Wait()
		pw.Close()
		close(s.done)
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.log.Write(append(sc.Bytes(), '\n'))
		}
		io.Copy(io.Discard, pr)
	}()
	s.t.Cleanup(func() {
		s.stop(syscall.SIGKILL)
		if s.t.Failed() {
			s.t.Logf("server log:\n%s", s.log.String())
		}
	})
	s.addr = s.waitAddress(addrFile)
	_, s.port, _ = strings.Cut(s.addr, ":")
	s.sshArgs = []string{"-F", "/dev/null", "-i", s.key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=accept-new", "-o", "UserKnownHostsFile=" + filepath.Join(s.home, "known_hosts"),
		"-o", "LogLevel=ERROR", "-p", s.port}
}

// waitAddress polls for the address file until the server writes it, exits, or a minute passes.
func (s *server) waitAddress(path string) string {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(path); err == nil {
			return strings.TrimSpace(string(b))
		}
		select {
		case <-s.done:
			s.t.Fatalf("baleen serve exited before it listened:\n%s", s.log.String())
		case <-tick.C:
			if time.Now().After(deadline) {
				s.t.Fatalf("baleen serve did not listen within 60s:\n%s", s.log.String())
			}
		}
	}
}

// stop signals the server and waits for it to exit.
func (s *server) stop(sig syscall.Signal) {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(3 * time.Minute):
		s.cmd.Process.Kill()
		<-s.done
		s.t.Errorf("baleen serve did not stop on %v within 3 minutes", sig)
	}
}

// url is the remote URL of a project.
func (s *server) url(project string) string {
	return fmt.Sprintf("ssh://git@127.0.0.1:%s/%s", s.port, project)
}

// gitSSH is the GIT_SSH_COMMAND for a key.
func (s *server) gitSSH(key string) string {
	args := append([]string{"ssh"}, s.sshArgs...)
	for i, a := range args {
		if a == s.key {
			args[i] = key
		}
	}
	return strings.Join(args, " ")
}

// result is what a client command did.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// ssh runs `ssh HOST args...` with the authorized key.
func (s *server) ssh(args ...string) result {
	s.t.Helper()
	return s.sshWith(s.key, args...)
}

func (s *server) sshWith(key string, args ...string) result {
	s.t.Helper()
	all := append(append([]string{}, s.sshArgs...), "git@127.0.0.1")
	for i, a := range all {
		if a == s.key {
			all[i] = key
		}
	}
	return s.exec("", nil, "ssh", append(all, args...)...)
}

// exec runs a command to its end.
func (s *server) exec(dir string, env []string, name string, args ...string) result {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.t.Context(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// repo is a client work tree.
type repo struct {
	s   *server
	dir string
}

// newRepo makes a work tree with files ("{{busybox}}" stands for the test image) and commits them on main.
func (s *server) newRepo(files map[string]string) *repo {
	s.t.Helper()
	r := &repo{s: s, dir: s.t.TempDir()}
	r.git("init", "-q", "-b", "main")
	r.write(files)
	r.commit("first")
	return r
}

func (r *repo) write(files map[string]string) {
	r.s.t.Helper()
	bb := dockertest.BusyboxImage(r.s.t)
	for name, body := range files {
		p := filepath.Join(r.dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(body, "{{busybox}}", bb)), mode); err != nil {
			r.s.t.Fatal(err)
		}
	}
}

func (r *repo) commit(msg string) string {
	r.s.t.Helper()
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	return r.head()
}

func (r *repo) head() string {
	return strings.TrimSpace(r.git("rev-parse", "HEAD").stdout)
}

func gitEnv(home string) []string {
	return []string{"HOME=" + home, "GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_TERMINAL_PROMPT=0"}
}

// git runs git in the work tree and fails the test when it fails.
func (r *repo) git(args ...string) result {
	r.s.t.Helper()
	res := r.s.exec(r.dir, gitEnv(r.s.home), "git", args...)
	if res.code != 0 {
		r.s.t.Fatalf("git %s: %s", strings.Join(args, " "), res)
	}
	return res
}

// push runs git push with the authorized key and returns what happened, failing or not.
func (r *repo) push(args ...string) result {
	r.s.t.Helper()
	return r.pushWith(r.s.key, args...)
}

func (r *repo) pushWith(key string, args ...string) result {
	r.s.t.Helper()
	env := append(gitEnv(r.s.home), "GIT_SSH_COMMAND="+r.s.gitSSH(key))
	return r.s.exec(r.dir, env, "git", append([]string{"push"}, args...)...)
}

// startPush starts git push and returns its running command and a reader of its stderr as it is written.
func (r *repo) startPush(args ...string) (*exec.Cmd, *bufio.Scanner) {
	r.s.t.Helper()
	cmd := exec.Command("git", append([]string{"push"}, args...)...)
	cmd.Dir = r.dir
	cmd.Env = append(append(os.Environ(), gitEnv(r.s.home)...), "GIT_SSH_COMMAND="+r.s.gitSSH(r.s.key))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		r.s.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		r.s.t.Fatal(err)
	}
	r.s.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, bufio.NewScanner(stderr)
}

// waitLine reads lines until one contains text, and returns everything read.
func waitLine(t *testing.T, sc *bufio.Scanner, text string) string {
	t.Helper()
	var seen strings.Builder
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), text) {
			return seen.String()
		}
	}
	t.Fatalf("output ended without %q:\n%s", text, seen.String())
	return ""
}

// remoteRef is what the server's repository says a ref points at ("" when it does not exist).
func (s *server) remoteRef(project, ref string) string {
	s.t.Helper()
	res := s.exec("", nil, "git", "--git-dir", filepath.Join(s.data, "repos", project+".git"), "rev-parse", "-q", "--verify", ref)
	return strings.TrimSpace(res.stdout)
}

// testContainer finds the running test container of a build, by its labels.
func (s *server) testContainer(id baleen.BuildID) string {
	s.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	filter := make(client.Filters).Add("label", baleen.LabelBuild+"="+string(id)).Add("label", docker.LabelRole+"=test")
	for time.Now().Before(deadline) {
		list, err := s.engine.Client().ContainerList(s.t.Context(), client.ContainerListOptions{Filters: filter})
		if err != nil {
			s.t.Fatal(err)
		}
		if len(list.Items) > 0 {
			return list.Items[0].ID
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("no running test container for build %s", id)
	return ""
}

// release lets a gated test container finish: it waits for /tmp/go to exist.
func (s *server) release(id baleen.BuildID) {
	s.t.Helper()
	ctr := s.testContainer(id)
	var out bytes.Buffer
	code, err := s.engine.Exec(s.t.Context(), ctr, []string{"touch", "/tmp/go"}, &out)
	if err != nil || code != 0 {
		s.t.Fatalf("release test container of %s: exit %d, %v: %s", id, code, err, out.String())
	}
}

// waitStatus polls `ssh status --json` until the build reaches a final status, and returns it.
func (s *server) waitFinal(project string, number int) baleen.Status {
	s.t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	var last result
	for time.Now().Before(deadline) {
		last = s.ssh("builds", project, "--json")
		for _, b := range decodeBuilds(s.t, last.stdout) {
			if b.Number == number && b.Status.Final() {
				return b.Status
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.t.Fatalf("build #%d of %s did not end: %s", number, project, last)
	return ""
}
