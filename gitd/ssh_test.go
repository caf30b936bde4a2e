package gitd_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gossh "golang.org/x/crypto/ssh"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/gitd"
)

// dial connects with x/crypto's client and the given auth methods, checking the host key.
func (e *env) dial(auth ...gossh.AuthMethod) (*gossh.Client, error) {
	return gossh.Dial("tcp", e.addr, &gossh.ClientConfig{
		User:            "anyone",
		Auth:            auth,
		HostKeyCallback: gossh.FixedHostKey(e.srv.HostKey()),
	})
}

// whoami runs the "whoami" command, which the fake command handler answers with the caller's fingerprint.
func (e *env) whoami(t *testing.T, c *gossh.Client) string {
	t.Helper()
	e.cmds.setFn(func(s *baleen.Call) int {
		fmt.Fprint(s.Stdout, s.Fingerprint)
		return 0
	})
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.Output("whoami")
	if err != nil {
		t.Fatalf("whoami: %v", err)
	}
	return string(out)
}

// offerOnly is a key the client offers but cannot sign with: its signature is in a format no server accepts,
// so the server turns the attempt down (without closing the connection) and the client goes on to its next
// key. It lets x/crypto's client offer key A and then authenticate with key B.
type offerOnly struct{ pub gossh.PublicKey }

func (o offerOnly) PublicKey() gossh.PublicKey { return o.pub }
func (o offerOnly) Sign(io.Reader, []byte) (*gossh.Signature, error) {
	return &gossh.Signature{Format: "x-not-a-signature", Blob: []byte("nope")}, nil
}

// TestIdentityIsTheVerifiedKey stops the attack class of CVE-2024-45337: the public key callback also runs
// for keys a client merely offers, so a server that takes the pusher's identity from that callback can be
// fooled into crediting (or authorizing) a key the client never proved it holds.
func TestIdentityIsTheVerifiedKey(t *testing.T) {
	e := newEnv(t)
	authorizedA := newClientKey(t, e.dir, "id_a")
	authorizedB := newClientKey(t, e.dir, "id_b")
	unauthorizedB := newClientKey(t, e.dir, "id_stranger")
	e.authorize(authorizedA)
	e.authorize(authorizedB)

	t.Run("offer authorized A, sign with unauthorized B", func(t *testing.T) {
		c, err := e.dial(gossh.PublicKeys(offerOnly{authorizedA.signer.PublicKey()}, unauthorizedB.signer))
		if err == nil {
			c.Close()
			t.Fatal("a client that offered an authorized key but signed with an unauthorized one got in")
		}
	})
	t.Run("offer authorized A, sign with authorized B", func(t *testing.T) {
		c, err := e.dial(gossh.PublicKeys(offerOnly{authorizedA.signer.PublicKey()}, authorizedB.signer))
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		if got, want := e.whoami(t, c), authorizedB.fingerprint(); got != want {
			t.Errorf("identity: got %s, want the signing key %s (offered key was %s)", got, want, authorizedA.fingerprint())
		}
	})
}

func TestRefusedKey(t *testing.T) {
	e := newEnv(t)
	stranger := newClientKey(t, e.dir, "id_stranger")
	work := e.work("app")
	out, err := e.command(work, stranger, "git", "push", "origin", "main").CombinedOutput()
	if err == nil {
		t.Fatalf("push with an unlisted key exited 0\n%s", out)
	}
	if !strings.Contains(string(out), "Permission denied (publickey)") {
		t.Errorf("push output lacks the ssh refusal:\n%s", out)
	}
	if got := len(e.recv.got()); got != 0 {
		t.Errorf("Receive calls: got %d, want 0", got)
	}
}

func TestAuthorizedKeysReread(t *testing.T) {
	e := newEnv(t)
	later := newClientKey(t, e.dir, "id_later")
	if c, err := e.dial(gossh.PublicKeys(later.signer)); err == nil {
		c.Close()
		t.Fatal("an unlisted key got in")
	}
	e.authorize(later)
	c, err := e.dial(gossh.PublicKeys(later.signer))
	if err != nil {
		t.Fatalf("a key added to authorized_keys was refused: %v", err)
	}
	defer c.Close()
	if got, want := e.whoami(t, c), later.fingerprint(); got != want {
		t.Errorf("identity: got %s, want %s", got, want)
	}
}

func TestOnlyPublicKeyAuth(t *testing.T) {
	e := newEnv(t)
	// OpenSSH lists the methods the server allows when it gives up: only publickey may be there.
	for _, method := range []string{"password", "keyboard-interactive", "none"} {
		t.Run(method, func(t *testing.T) {
			args := append(e.sshArgs(e.key)[1:], "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications="+method, "127.0.0.1", "whoami")
			out, err := e.command(e.dir, e.key, "ssh", args...).CombinedOutput()
			if err == nil {
				t.Fatalf("%s authentication got in:\n%s", method, out)
			}
			if !strings.Contains(string(out), "Permission denied (publickey)") {
				t.Errorf("ssh output: got %q, want Permission denied (publickey)", out)
			}
		})
	}
	if got := len(e.cmds.got()); got != 0 {
		t.Errorf("commands run: got %d, want 0", got)
	}
}

func TestCommandRouting(t *testing.T) {
	e := newEnv(t)
	e.cmds.setFn(func(s *baleen.Call) int {
		in, _ := io.ReadAll(s.Stdin)
		fmt.Fprintf(s.Stdout, "args=%q stdin=%q", s.Args, in)
		fmt.Fprint(s.Stderr, "to stderr")
		if len(s.Args) > 0 && s.Args[0] == "fail" {
			return 3
		}
		return 0
	})
	tests := []struct {
		name       string
		command    []string
		stdin      string
		wantOut    string
		wantErr    string
		wantCode   int
		wantCalled bool
	}{
		{"plain", []string{"projects"}, "", `args=["projects"] stdin=""`, "to stderr", 0, true},
		{"quoted words", []string{"builds", "'my app'", "7"}, "", `args=["builds" "my app" "7"] stdin=""`, "to stderr", 0, true},
		{"stdin", []string{"import"}, "data\n", `args=["import"] stdin="data\n"`, "to stderr", 0, true},
		{"exit code", []string{"fail"}, "", `args=["fail"] stdin=""`, "to stderr", 3, true},
		{"other git service", []string{"git-upload-archive", "'app'"}, "", "", "not supported", 1, false},
		{"bad quoting", []string{"builds", "'app"}, "", "", "unterminated", 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.cmds.got())
			args := append(e.sshArgs(e.key)[1:], append([]string{"127.0.0.1"}, tt.command...)...)
			cmd := e.command(e.dir, e.key, "ssh", args...)
			cmd.Stdin = strings.NewReader(tt.stdin)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if ee := (interface{ ExitCode() int })(nil); errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("ssh: %v", err)
			}
			if code != tt.wantCode {
				t.Errorf("exit code: got %d, want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			if tt.wantOut != "" && stdout.String() != tt.wantOut {
				t.Errorf("stdout: got %q, want %q", stdout.String(), tt.wantOut)
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr: got %q, want it to contain %q", stderr.String(), tt.wantErr)
			}
			if called := len(e.cmds.got()) > before; called != tt.wantCalled {
				t.Errorf("handler called: got %v, want %v", called, tt.wantCalled)
			}
		})
	}
	if got := e.cmds.got(); len(got) > 0 && got[0].Fingerprint != e.key.fingerprint() {
		t.Errorf("session fingerprint: got %q, want %q", got[0].Fingerprint, e.key.fingerprint())
	}
}

func TestNoShellPtyOrForwarding(t *testing.T) {
	e := newEnv(t)
	c, err := e.dial(gossh.PublicKeys(e.key.signer))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	t.Run("local port forwarding", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if conn, err := c.Dial("tcp", l.Addr().String()); err == nil {
			conn.Close()
			t.Error("direct-tcpip channel opened, want refused")
		}
	})
	t.Run("remote port forwarding", func(t *testing.T) {
		if l, err := c.Listen("tcp", "127.0.0.1:0"); err == nil {
			l.Close()
			t.Error("tcpip-forward accepted, want refused")
		}
	})
	for _, req := range []string{"pty-req", "auth-agent-req@openssh.com", "x11-req", "subsystem"} {
		t.Run(req, func(t *testing.T) {
			sess, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			var payload []byte
			switch req {
			case "pty-req":
				payload = gossh.Marshal(struct {
					Term          string
					Cols, Rows    uint32
					Width, Height uint32
					Modes         string
				}{"xterm", 80, 24, 0, 0, ""})
			case "subsystem":
				payload = gossh.Marshal(struct{ Name string }{"sftp"})
			}
			ok, err := sess.SendRequest(req, true, payload)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				t.Errorf("%s accepted, want refused", req)
			}
		})
	}
	t.Run("shell goes to the handler with no args", func(t *testing.T) {
		before := len(e.cmds.got())
		e.cmds.setFn(func(*baleen.Call) int { return 2 })
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		if err := sess.Shell(); err != nil {
			t.Fatal(err)
		}
		var ee *gossh.ExitError
		if err := sess.Wait(); !errors.As(err, &ee) || ee.ExitStatus() != 2 {
			t.Fatalf("shell: got %v, want exit status 2", err)
		}
		got := e.cmds.got()
		if len(got) != before+1 || len(got[before].Args) != 0 {
			t.Errorf("shell session: got %d calls, args %q; want one call with no args", len(got)-before, got[len(got)-1].Args)
		}
	})
}

// TestRacingPushesLoserBuildsNothing: two pushes move main from the same commit. The second waits for the
// first, finds main moved, and is refused before its Receiver runs: the loser of a race builds nothing, so
// it can never tag, push or deploy an image of a commit that did not land.
func TestRacingPushesLoserBuildsNothing(t *testing.T) {
	e := newEnv(t)
	base := e.work("app")
	e.mustGit(base, "push", "-q", "origin", "main")
	clones := make([]string, 2)
	commits := make([]string, 2)
	for i := range clones {
		clones[i] = filepath.Join(t.TempDir(), "c")
		e.mustGit(e.dir, "clone", "-q", e.remote("app"), clones[i])
		commits[i] = e.commit(clones[i], fmt.Sprintf("f%d", i), "x\n")
	}
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	e.recv.setFn(func(_ context.Context, p gitd.Push, _ io.Writer) []error {
		entered <- struct{}{}
		<-release
		return make([]error, len(p.Updates))
	})
	first := make(chan error, 1)
	go func() {
		out, err := e.command(clones[0], e.key, "git", "push", "origin", "main").CombinedOutput()
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, out)
		}
		first <- err
	}()
	<-entered
	second := e.command(clones[1], e.key, "git", "push", "--progress", "origin", "main")
	stderr, err := second.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	sc := scanLines(stderr)
	var seen strings.Builder
	for sc.Scan() && !strings.Contains(sc.Text(), "waiting for another push of refs/heads/main") {
		seen.WriteString(sc.Text() + "\n")
	}
	close(release)
	rest, _ := io.ReadAll(stderr)
	secondErr := second.Wait()
	if err := <-first; err != nil {
		t.Fatalf("first push: %v", err)
	}
	out := seen.String() + string(rest)
	if secondErr == nil || !strings.Contains(out, "[remote rejected] main -> main") || !strings.Contains(out, "fetch first") {
		t.Errorf("second push: got %v, want a rejection saying fetch first\n%s", secondErr, out)
	}
	if n := len(e.recv.got()); n != 2 { // the first push of main, and the winner
		t.Errorf("Receiver calls: got %d, want 2 (the loser of the race reaches no build)", n)
	}
	if got := e.refOf("app", "refs/heads/main"); got != commits[0] {
		t.Errorf("main: got %s, want the winner's %s", got, commits[0])
	}
	e.fsck("app")
}

// TestClientDisconnectMidReceive shows that a push whose client goes away is finished: the Receiver's ctx
// stays alive, its writes do not fail, and the ref moves.
func TestClientDisconnectMidReceive(t *testing.T) {
	e := newEnv(t)
	work := e.work("app")
	head := e.mustGit(work, "rev-parse", "HEAD")
	release := make(chan struct{})
	result := make(chan error, 1)
	e.recv.setFn(func(ctx context.Context, p gitd.Push, out io.Writer) []error {
		io.WriteString(out, "building\n")
		<-release
		_, werr := io.WriteString(out, "still building after the client left\n")
		result <- errors.Join(ctx.Err(), werr)
		return make([]error, len(p.Updates))
	})
	cmd := e.command(work, e.key, "git", "push", "--progress", "origin", "main")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := scanLines(stderr)
	for sc.Scan() && !strings.Contains(sc.Text(), "remote: building") {
	}
	// Kill git and its ssh: the connection drops while Receive runs.
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitFor(t, "the server to notice the client left", func() bool {
		return strings.Contains(e.logs.String(), "client gone; the push goes on")
	})
	close(release)
	if err := <-result; err != nil {
		t.Errorf("Receiver after the client left: got %v, want a live ctx and writes that succeed", err)
	}
	waitFor(t, "main to move", func() bool { return e.refOf("app", "refs/heads/main") == head })
	e.fsck("app")
}

func TestHostKeyKept(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys", "host")
	cfg := gitd.Config{HostKeyPath: path, AuthorizedKeysPath: filepath.Join(dir, "ak"), ReposDir: filepath.Join(dir, "repos"), Receiver: &fakeReceiver{}, Hook: testHook(t)}
	first, err := gitd.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("host key mode: got %04o, want 0600", got)
	}
	second, err := gitd.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first.HostKey().Marshal(), second.HostKey().Marshal()); diff != "" {
		t.Errorf("host key changed between starts (-first +second):\n%s", diff)
	}
	if got := first.HostKey().Type(); got != gossh.KeyAlgoED25519 {
		t.Errorf("host key type: got %s, want %s", got, gossh.KeyAlgoED25519)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := gitd.New(cfg); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("New with a world-readable host key: got %v, want a refusal naming chmod 600", err)
	}
}

func TestShutdownWaitsForPush(t *testing.T) {
	e := newEnv(t)
	work := e.work("app")
	release := make(chan struct{})
	entered := make(chan struct{})
	e.recv.setFn(func(_ context.Context, p gitd.Push, _ io.Writer) []error {
		close(entered)
		<-release
		return make([]error, len(p.Updates))
	})
	pushed := make(chan error, 1)
	go func() {
		out, err := e.command(work, e.key, "git", "push", "origin", "main").CombinedOutput()
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, out)
		}
		pushed <- err
	}()
	<-entered
	shut := make(chan error, 1)
	go func() { shut <- e.srv.Shutdown(t.Context()) }()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v while a push was running", err)
	default:
	}
	close(release)
	if err := <-pushed; err != nil {
		t.Errorf("push during shutdown: %v", err)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestStalledConnectionDropped stops a client without a key from holding connections open: one that connects
// and never completes the handshake is closed once HandshakeTimeout has passed.
func TestStalledConnectionDropped(t *testing.T) {
	dir := t.TempDir()
	srv, err := gitd.New(gitd.Config{
		HostKeyPath: filepath.Join(dir, "host_key"), AuthorizedKeysPath: filepath.Join(dir, "authorized_keys"),
		ReposDir: filepath.Join(dir, "repos"), Receiver: &fakeReceiver{}, HandshakeTimeout: time.Second, Hook: testHook(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Read the server's banner and then nothing more: the server must hang up.
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	_, err = io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("a stalled connection was still open after a minute; want it closed after the handshake timeout")
	}
}

// TestUnauthenticatedFloodLeavesRoom stops a client without a key from taking every connection slot: many
// connections from one address that never authenticate are capped per source, and an authorized client
// from another address still runs its command.
func TestUnauthenticatedFloodLeavesRoom(t *testing.T) {
	e := newEnv(t)
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	dialer := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	for range gitd.DefaultMaxUnauthenticatedPerSource * 3 {
		c, err := dialer.Dial("tcp", e.addr)
		if err != nil {
			t.Fatalf("dial from 127.0.0.2: %v", err)
		}
		conns = append(conns, c)
	}
	// The connections past the cap are closed by the server: reading from them ends.
	var mu sync.Mutex
	var wg sync.WaitGroup
	closed := 0
	deadline := time.Now().Add(5 * time.Second)
	for _, c := range conns {
		wg.Go(func() {
			c.SetReadDeadline(deadline)
			_, err := io.Copy(io.Discard, c)
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				mu.Lock()
				closed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if want := gitd.DefaultMaxUnauthenticatedPerSource * 2; closed < want {
		t.Errorf("connections closed past the per-source cap: got %d, want at least %d", closed, want)
	}
	e.cmds.setFn(func(s *baleen.Call) int {
		fmt.Fprintln(s.Stdout, "projects listed")
		return 0
	})
	out, err := e.command(e.dir, e.key, "ssh", append(e.sshArgs(e.key)[1:], "git@127.0.0.1", "projects")...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "projects listed") {
		t.Errorf("authorized ssh projects during the flood: %v\n%s", err, out)
	}
}
