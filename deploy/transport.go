package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/internal/shell"
)

// LocalHost is the host name in a target's hosts that means the machine Baleen runs on: commands run
// there directly and systemd is reached on the local system bus.
const LocalHost = "local"

// host is one machine of a target, reached over SSH or locally. Its methods may be called concurrently.
type host interface {
	// run runs the shell command cmd as root (through sudo -n when the deploy user is not root) with
	// stdin as its input and its standard output written to stdout. A command that exits non-zero is an
	// error carrying the end of its standard error.
	run(ctx context.Context, cmd string, stdin io.Reader, stdout io.Writer) error
	// dial opens a TCP connection to addr as seen from the host itself.
	dial(ctx context.Context, addr string) (net.Conn, error)
	// systemd connects to the host's systemd over D-Bus. The connection ends with ctx.
	systemd(ctx context.Context) (*sddbus.Conn, error)
	// Close ends the connection to the host.
	Close() error
}

// stderrLimit bounds how much of a failed command's standard error reaches its error.
const stderrLimit = 2048

// connect reaches addr, one host of target t: "local", or "host:port" over SSH as t.User with t.Identity,
// checking the host key against t.KnownHosts. Dialling and the SSH handshake are bounded by timeout.
func connect(ctx context.Context, t Target, addr string, timeout time.Duration) (host, error) {
	if addr == LocalHost {
		return localHost{sudo: os.Geteuid() != 0}, nil
	}
	cfg, err := clientConfig(t, addr, timeout)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("host %s is unreachable (gave up after %v): %w: %w", addr, timeout, err, baleen.ErrUnavailable)
	}
	// The handshake gets the same bound: a port that accepts and then says nothing must not hang a
	// rollout.
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("host %s: %w", addr, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	cc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	stop()
	if err != nil {
		conn.Close()
		return nil, handshakeError(t, addr, err)
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		cc.Close()
		return nil, fmt.Errorf("host %s: %w", addr, err)
	}
	h := &sshHost{addr: addr, client: ssh.NewClient(cc, chans, reqs), sudo: t.User != "root", done: make(chan struct{})}
	go h.keepalive(timeout)
	return h, nil
}

// clientConfig is the SSH client configuration for addr: t's key, and its known_hosts, whose key types
// for addr are the only ones offered so that a host with several keys is checked against the one on file.
func clientConfig(t Target, addr string, timeout time.Duration) (*ssh.ClientConfig, error) {
	switch {
	case t.KnownHosts == "":
		return nil, fmt.Errorf("target %s: known_hosts is required: %w", t.Name, baleen.ErrInvalid)
	case t.Identity == "":
		return nil, fmt.Errorf("target %s: identity (the deploy key) is required: %w", t.Name, baleen.ErrInvalid)
	case t.User == "":
		return nil, fmt.Errorf("target %s: user is required: %w", t.Name, baleen.ErrInvalid)
	}
	db, err := knownhosts.NewDB(t.KnownHosts)
	if err != nil {
		return nil, fmt.Errorf("target %s: read known_hosts %s: %w", t.Name, t.KnownHosts, err)
	}
	pem, err := os.ReadFile(t.Identity)
	if err != nil {
		return nil, fmt.Errorf("target %s: read identity: %w", t.Name, err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return nil, fmt.Errorf("target %s: parse identity %s: %w", t.Name, t.Identity, err)
	}
	return &ssh.ClientConfig{
		User:              t.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback:   db.HostKeyCallback(),
		HostKeyAlgorithms: db.HostKeyAlgorithms(addr),
		Timeout:           timeout,
	}, nil
}

// handshakeError says in words why the SSH handshake with addr failed.
func handshakeError(t Target, addr string, err error) error {
	switch {
	case knownhosts.IsHostKeyChanged(err):
		return fmt.Errorf("host %s: REFUSED: its host key does not match the one in %s; if the host was reinstalled, replace its line there, otherwise someone may be intercepting the connection: %w",
			addr, t.KnownHosts, baleen.ErrUnauthorized)
	case knownhosts.IsHostUnknown(err):
		return fmt.Errorf("host %s: REFUSED: it is not in %s; add its host key there (ssh-keyscan, checked out of band): %w",
			addr, t.KnownHosts, baleen.ErrUnauthorized)
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return fmt.Errorf("host %s: no SSH handshake: %w: %w", addr, err, baleen.ErrUnavailable)
	}
	if strings.Contains(err.Error(), "unable to authenticate") {
		return fmt.Errorf("host %s: %s refused the key %s: %w", addr, t.User, t.Identity, baleen.ErrUnauthorized)
	}
	return fmt.Errorf("host %s: ssh: %w", addr, err)
}

// sshHost is a host reached over SSH.
type sshHost struct {
	addr   string
	client *ssh.Client
	sudo   bool
	// done is closed by Close; lost is set when the host stopped answering keepalives.
	done      chan struct{}
	closeOnce sync.Once
	lost      atomic.Bool
}

func (h *sshHost) Close() error {
	h.closeOnce.Do(func() { close(h.done) })
	return h.client.Close()
}

// keepaliveCount is how many keepalive intervals a reply may take before the host counts as lost, as
// OpenSSH's ServerAliveCountMax: a request may queue behind a channel window of image data on a slow link.
const keepaliveCount = 3

// keepalive asks the host for a reply every interval and closes the connection when one does not come
// within keepaliveCount intervals: a host that stops answering after the login (hung, or its network
// gone) ends every command and D-Bus call in flight with an error instead of hanging the rollout,
// whatever their contexts.
func (h *sshHost) keepalive(interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-h.done:
			return
		case <-tick.C:
		}
		reply := make(chan error, 1)
		go func() {
			// Any answer will do, OpenSSH's "request failed" included.
			_, _, err := h.client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		wait := time.NewTimer(keepaliveCount * interval)
		select {
		case <-h.done:
			wait.Stop()
			return
		case err := <-reply:
			wait.Stop()
			if err != nil {
				return
			}
		case <-wait.C:
			h.lost.Store(true)
			h.client.Close()
			return
		}
	}
}

// lostError replaces err with one that says the host stopped answering, when it did.
func (h *sshHost) lostError(err error) error {
	if err == nil || !h.lost.Load() {
		return err
	}
	return fmt.Errorf("host %s stopped answering (no reply to SSH keepalives); the connection was closed: %w", h.addr, baleen.ErrUnavailable)
}

func (h *sshHost) run(ctx context.Context, cmd string, stdin io.Reader, stdout io.Writer) error {
	s, err := h.client.NewSession()
	if err != nil {
		return h.lostError(fmt.Errorf("host %s: open session: %w", h.addr, err))
	}
	defer s.Close()
	var stderr tailBuffer
	s.Stdin, s.Stdout, s.Stderr = stdin, stdout, &stderr
	if stdout == nil {
		s.Stdout = io.Discard
	}
	stop := context.AfterFunc(ctx, func() {
		_ = s.Signal(ssh.SIGKILL)
		s.Close()
	})
	defer stop()
	err = s.Run(privileged(cmd, h.sudo))
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return h.lostError(commandError(err, &stderr))
}

func (h *sshHost) dial(ctx context.Context, addr string) (net.Conn, error) {
	return h.client.DialContext(ctx, "tcp", addr)
}

// systemd speaks D-Bus to the host's systemd through systemd-stdio-bridge run in an SSH session: the
// bridge connects to the host's system bus and relays it over its standard input and output.
func (h *sshHost) systemd(ctx context.Context) (*sddbus.Conn, error) {
	c, err := sddbus.NewConnection(func() (*godbus.Conn, error) { return h.bus(ctx) })
	if err != nil {
		return nil, fmt.Errorf("host %s: connect to systemd: %w", h.addr, err)
	}
	return c, nil
}

// bus opens one D-Bus connection through a new bridge session, authenticated and greeted.
func (h *sshHost) bus(ctx context.Context) (*godbus.Conn, error) {
	s, err := h.client.NewSession()
	if err != nil {
		return nil, err
	}
	in, err := s.StdinPipe()
	if err != nil {
		s.Close()
		return nil, err
	}
	out, err := s.StdoutPipe()
	if err != nil {
		s.Close()
		return nil, err
	}
	var stderr tailBuffer
	s.Stderr = &stderr
	if err := s.Start(privileged("systemd-stdio-bridge", h.sudo)); err != nil {
		s.Close()
		return nil, fmt.Errorf("start systemd-stdio-bridge: %w", err)
	}
	conn, err := godbus.NewConn(&session{Reader: out, in: in, s: s}, godbus.WithContext(ctx))
	if err != nil {
		s.Close()
		return nil, err
	}
	// The bridge runs as root (directly or through sudo), so the bus sees uid 0 whatever the deploy user.
	if err := conn.Auth([]godbus.Auth{godbus.AuthExternal("0")}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("authenticate to the bus through systemd-stdio-bridge: %w%s", err, stderr.suffix())
	}
	if err := conn.Hello(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("hello to the bus through systemd-stdio-bridge: %w%s", err, stderr.suffix())
	}
	return conn, nil
}

// session is an SSH session's standard input and output as one stream.
type session struct {
	io.Reader
	in io.WriteCloser
	s  *ssh.Session
}

func (s *session) Write(p []byte) (int, error) { return s.in.Write(p) }

func (s *session) Close() error {
	s.in.Close()
	if err := s.s.Close(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// localHost is the machine Baleen runs on.
type localHost struct{ sudo bool }

func (localHost) Close() error { return nil }

func (l localHost) run(ctx context.Context, cmd string, stdin io.Reader, stdout io.Writer) error {
	c := exec.CommandContext(ctx, "sh", "-c", privileged(cmd, l.sudo))
	var stderr tailBuffer
	c.Stdin, c.Stdout, c.Stderr = stdin, stdout, &stderr
	err := c.Run()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return commandError(err, &stderr)
}

func (localHost) dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

func (localHost) systemd(ctx context.Context) (*sddbus.Conn, error) {
	c, err := sddbus.NewSystemConnectionContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("local: connect to systemd: %w", err)
	}
	return c, nil
}

// privileged runs cmd through "sudo -n" when sudo is set: a deploy user other than root needs root for the
// unit and environment files and may not be asked for a password.
func privileged(cmd string, sudo bool) string {
	if !sudo {
		return cmd
	}
	return "sudo -n sh -c " + shell.Quote(cmd)
}

// commandError turns a command's failure into an error carrying its exit status and the end of stderr.
func commandError(err error, stderr *tailBuffer) error {
	if err == nil {
		return nil
	}
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("exit status %d%s", ee.ExitStatus(), stderr.suffix())
	}
	var xe *exec.ExitError
	if errors.As(err, &xe) {
		return fmt.Errorf("exit status %d%s", xe.ExitCode(), stderr.suffix())
	}
	return fmt.Errorf("%w%s", err, stderr.suffix())
}

// tailBuffer keeps the last stderrLimit bytes written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > stderrLimit {
		t.b = t.b[len(t.b)-stderrLimit:]
	}
	return len(p), nil
}

// suffix is ": <stderr>" or "" when nothing was written.
func (t *tailBuffer) suffix() string {
	s := strings.TrimSpace(string(bytes.ToValidUTF8(t.b, nil)))
	if s == "" {
		return ""
	}
	return ": " + s
}
