package gitd_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/gitd"
)

const zeroID = "0000000000000000000000000000000000000000"

// testTimeout bounds every git and ssh run, so that a hang fails the test instead of stalling it.
const testTimeout = 2 * time.Minute

// TestMain lets the test binary stand in for `baleen hook`: git runs it as the proc-receive hook with
// GITD_TEST_HOOK=1 in its environment.
func TestMain(m *testing.M) {
	if os.Getenv("GITD_TEST_HOOK") == "1" {
		os.Exit(gitd.RunHook(os.Getenv, os.Stderr))
	}
	os.Exit(m.Run())
}

// testHook is the hook command for a test Server.
func testHook(t *testing.T) []string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return []string{"env", "GITD_TEST_HOOK=1", exe}
}

// requireTools skips, or fails under CI, when the real clients are missing.
func requireTools(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the git and ssh clients; -short runs without them")
	}
	for _, tool := range []string{"git", "ssh"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found: %v", tool, err)
			}
			t.Skipf("%s not found (needed for end-to-end tests): %v", tool, err)
		}
	}
}

// fakeReceiver is the pipeline's side of a push: it records the pushes and answers with fn.
type fakeReceiver struct {
	mu     sync.Mutex
	pushes []gitd.Push
	fn     func(ctx context.Context, p gitd.Push, out io.Writer) []error
}

func (r *fakeReceiver) Receive(ctx context.Context, p gitd.Push, out io.Writer) []error {
	r.mu.Lock()
	r.pushes = append(r.pushes, p)
	fn := r.fn
	r.mu.Unlock()
	if fn == nil {
		return make([]error, len(p.Updates))
	}
	return fn(ctx, p, out)
}

func (r *fakeReceiver) setFn(fn func(ctx context.Context, p gitd.Push, out io.Writer) []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fn = fn
}

func (r *fakeReceiver) got() []gitd.Push {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]gitd.Push(nil), r.pushes...)
}

// fakeCommands answers ssh commands with fn and records the sessions.
type fakeCommands struct {
	mu       sync.Mutex
	sessions []*baleen.Call
	fn       func(s *baleen.Call) int
}

func (c *fakeCommands) Run(_ context.Context, s *baleen.Call) int {
	c.mu.Lock()
	c.sessions = append(c.sessions, s)
	fn := c.fn
	c.mu.Unlock()
	if fn == nil {
		return 0
	}
	return fn(s)
}

func (c *fakeCommands) setFn(fn func(s *baleen.Call) int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fn = fn
}

func (c *fakeCommands) got() []*baleen.Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*baleen.Call(nil), c.sessions...)
}

// syncBuffer is a log sink tests can poll.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// clientKey is a throwaway ssh key on disk.
type clientKey struct {
	path   string
	signer gossh.Signer
}

func newClientKey(t *testing.T, dir, name string) clientKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := gossh.MarshalPrivateKey(priv, name)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return clientKey{path: path, signer: signer}
}

func (k clientKey) fingerprint() string { return gossh.FingerprintSHA256(k.signer.PublicKey()) }

// env is a running Server with its files, and the client side: a key, a known_hosts file, a HOME for git.
type env struct {
	t          *testing.T
	dir        string
	reposDir   string
	authorized string
	knownHosts string
	home       string
	key        clientKey
	addr       string
	port       string
	srv        *gitd.Server
	recv       *fakeReceiver
	cmds       *fakeCommands
	logs       *syncBuffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with a chance to change the Server's Config first.
func newEnvWith(t *testing.T, change func(*gitd.Config)) *env {
	t.Helper()
	requireTools(t)
	dir := t.TempDir()
	e := &env{
		t: t, dir: dir,
		reposDir:   filepath.Join(dir, "repos"),
		authorized: filepath.Join(dir, "authorized_keys"),
		knownHosts: filepath.Join(dir, "known_hosts"),
		home:       filepath.Join(dir, "home"),
		recv:       &fakeReceiver{},
		cmds:       &fakeCommands{},
		logs:       &syncBuffer{},
	}
	e.key = newClientKey(t, dir, "id_pusher")
	e.authorize(e.key)
	if err := os.MkdirAll(e.home, 0o700); err != nil {
		t.Fatal(err)
	}
	gitconfig := "[user]\n\tname = Tester\n\temail = tester@example.com\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
	if err := os.WriteFile(filepath.Join(e.home, ".gitconfig"), []byte(gitconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := gitd.Config{
		HostKeyPath:        filepath.Join(dir, "host_key"),
		AuthorizedKeysPath: e.authorized,
		ReposDir:           e.reposDir,
		Logger:             slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Receiver:           e.recv,
		Commands:           e.cmds,
		Hook:               testHook(t),
	}
	if change != nil {
		change(&cfg)
	}
	srv, err := gitd.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.srv = srv
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = l.Addr().String()
	_, e.port, _ = net.SplitHostPort(e.addr)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; !errors.Is(err, gitd.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs.String())
		}
	})
	line := fmt.Sprintf("[127.0.0.1]:%s %s", e.port, gossh.MarshalAuthorizedKey(srv.HostKey()))
	if err := os.WriteFile(e.knownHosts, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// authorize appends k to the authorized_keys file.
func (e *env) authorize(k clientKey) {
	e.t.Helper()
	f, err := os.OpenFile(e.authorized, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(gossh.MarshalAuthorizedKey(k.signer.PublicKey())); err != nil {
		e.t.Fatal(err)
	}
}

// sshArgs is the ssh command line for key k, without the command.
func (e *env) sshArgs(k clientKey) []string {
	return []string{"ssh", "-F", "/dev/null", "-i", k.path, "-o", "IdentitiesOnly=yes", "-o", "UserKnownHostsFile=" + e.knownHosts,
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-p", e.port}
}

// remote is the git URL of project on the server.
func (e *env) remote(project string) string { return "git@127.0.0.1:" + project }

// command prepares a process in its own process group, killed as a group when the test ends or times out.
func (e *env) command(dir string, k clientKey, name string, args ...string) *exec.Cmd {
	ctx, cancel := context.WithTimeout(e.t.Context(), testTimeout)
	e.t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	quoted := make([]string, 0, 16)
	for _, a := range e.sshArgs(k) {
		quoted = append(quoted, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	cmd.Env = append(os.Environ(), "HOME="+e.home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "LC_ALL=C",
		"GIT_SSH_COMMAND="+strings.Join(quoted, " "))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// git runs git in dir with the env's key and returns its combined output.
func (e *env) git(dir string, args ...string) (string, error) {
	e.t.Helper()
	out, err := e.command(dir, e.key, "git", args...).CombinedOutput()
	return string(out), err
}

// mustGit runs git and fails the test if it fails.
func (e *env) mustGit(dir string, args ...string) string {
	e.t.Helper()
	out, err := e.git(dir, args...)
	if err != nil {
		e.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

// work makes a work tree with one commit on main and the server's project as origin.
func (e *env) work(project string) string {
	e.t.Helper()
	dir := e.t.TempDir()
	e.mustGit(dir, "init", "-q")
	e.commit(dir, "README", "hello\n")
	e.mustGit(dir, "remote", "add", "origin", e.remote(project))
	return dir
}

// commit writes a file and commits it; it returns the commit id.
func (e *env) commit(dir, name, body string) string {
	e.t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.mustGit(dir, "add", name)
	e.mustGit(dir, "commit", "-q", "-m", "change "+name)
	return e.mustGit(dir, "rev-parse", "HEAD")
}

// bare runs git against project's bare repository on the server.
func (e *env) bare(project string, args ...string) (string, error) {
	e.t.Helper()
	return e.git(e.dir, append([]string{"--git-dir", filepath.Join(e.reposDir, project+".git")}, args...)...)
}

// refOf returns the commit a ref of project holds on the server, or "" if it does not exist.
func (e *env) refOf(project, ref string) string {
	e.t.Helper()
	out, err := e.bare(project, "rev-parse", "--verify", "-q", ref)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// fsck checks project's bare repository with git fsck.
func (e *env) fsck(project string) {
	e.t.Helper()
	if out, err := e.bare(project, "fsck", "--strict", "--no-dangling"); err != nil {
		e.t.Errorf("git fsck of %s: %v\n%s", project, err, out)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scanLines splits git's stderr at \n and \r, as git's progress uses both.
func scanLines(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
			return i + 1, data[:i], nil
		}
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	return sc
}
