package gitd

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/internal/shell"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
)

// How git's proc-receive hook reaches the server. git receive-pack runs the hook (Config.Hook, which is
// `baleen hook`) with BALEEN_PUSH_TOKEN and BALEEN_HOOK_SOCKET in its environment. The hook connects to the
// unix socket, sends the token and, in the same message, its standard input, output and error as file
// descriptors (SCM_RIGHTS), then waits for one byte: its exit status. The server speaks git's proc-receive
// protocol on those descriptors itself, writes the build's output to the hook's standard error (which
// receive-pack relays to the pusher as `remote:` lines), moves the refs, and reports ok/ng per ref.
const (
	envPushToken  = "BALEEN_PUSH_TOKEN"
	envHookSocket = "BALEEN_HOOK_SOCKET"
)

// pushSession is one git receive-pack the server runs, as its hook finds it by token.
type pushSession struct {
	project     string
	repo        string
	created     bool
	fingerprint string
	identity    baleen.Identity
	// client ends when the pusher's connection closes.
	client context.Context
	// certFile is where the pre-receive hook keeps git's verdict on a signed push's certificate.
	certFile string
	log      *slog.Logger
}

// openPushSession registers the push a receive-pack is about to receive, for its hooks to find by token,
// and returns the environment that tells them the token, and what ends the session.
func (s *Server) openPushSession(c *call, project, repo string, created bool, log *slog.Logger) (env []string, done func(), err error) {
	token, err := newToken()
	if err != nil {
		return nil, nil, err
	}
	certFile := filepath.Join(s.certDir, token)
	s.mu.Lock()
	s.pushes[token] = &pushSession{project: project, repo: repo, created: created, fingerprint: c.fingerprint, identity: c.identity,
		client: c.ctx, log: log, certFile: certFile}
	s.mu.Unlock()
	if created {
		log.Info("project created")
	}
	done = func() {
		s.mu.Lock()
		delete(s.pushes, token)
		s.mu.Unlock()
		_ = os.Remove(certFile)
	}
	return []string{envPushToken + "=" + token, envHookSocket + "=" + s.hookSock, envCertFile + "=" + certFile}, done, nil
}

// newToken is an unguessable name for a push session.
func newToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("push token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// hookScript is the proc-receive hook git runs: it execs the configured command.
func hookScript(argv []string) string {
	return "#!/bin/sh\n# Written by baleen serve at each start: git's proc-receive hook hands the push to the server.\n" +
		"# git runs under a memory limit that the hook, which holds no objects, need not keep.\n" +
		"ulimit -S -v unlimited 2>/dev/null\nexec " + shell.Join(argv) + " proc-receive\n"
}

// setupHooks writes the hooks directory under dir and listens on the hook socket.
func setupHooks(dir string, argv []string) (hooksDir, sock string, l *net.UnixListener, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", nil, fmt.Errorf("hooks dir: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", "", nil, fmt.Errorf("hooks dir: %w", err)
	}
	hooksDir = filepath.Join(dir, "hooks")
	if err := os.MkdirAll(hooksDir, 0o755); err != nil {
		return "", "", nil, fmt.Errorf("hooks dir: %w", err)
	}
	tmp := filepath.Join(hooksDir, ".proc-receive.tmp")
	if err := os.WriteFile(tmp, []byte(hookScript(argv)), 0o755); err != nil {
		return "", "", nil, fmt.Errorf("write hook: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(hooksDir, "proc-receive")); err != nil {
		return "", "", nil, fmt.Errorf("write hook: %w", err)
	}
	sock = filepath.Join(dir, "hook.sock")
	if len(sock) > 104 {
		return "", "", nil, fmt.Errorf("hook socket path %s is %d bytes, longer than a unix socket allows (104); use a shorter data directory", sock, len(sock))
	}
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", "", nil, fmt.Errorf("hook socket: %w", err)
	}
	l, err = net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return "", "", nil, fmt.Errorf("hook socket: %w", err)
	}
	return hooksDir, sock, l, nil
}

// acceptHooks serves hook connections until l is closed.
func (s *Server) acceptHooks(l *net.UnixListener) {
	for {
		conn, err := l.AcceptUnix()
		if err != nil {
			return
		}
		go s.handleHook(conn)
	}
}

// handleHook serves one proc-receive hook: it reads the token and the hook's descriptors, runs the push,
// and sends the hook its exit status.
func (s *Server) handleHook(conn *net.UnixConn) {
	defer conn.Close()
	buf := make([]byte, 128)
	oob := make([]byte, syscall.CmsgSpace(3*4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		s.log.Warn("hook: read", "err", err)
		return
	}
	files, err := receiveFiles(oob[:oobn])
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	if err != nil || len(files) != 3 {
		s.log.Warn("hook: want three file descriptors", "got", len(files), "err", err)
		_, _ = conn.Write([]byte{1})
		return
	}
	s.mu.Lock()
	sess := s.pushes[string(bytes.TrimSpace(buf[:n]))]
	s.mu.Unlock()
	if sess == nil {
		fmt.Fprintln(files[2], "baleen: this hook belongs to no push the server knows")
		_, _ = conn.Write([]byte{1})
		return
	}
	code := s.procReceive(sess, files[0], files[1], files[2])
	_, _ = conn.Write([]byte{byte(code)})
}

// receiveFiles turns the SCM_RIGHTS of a message into files.
func receiveFiles(oob []byte) ([]*os.File, error) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("control message: %w", err)
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := syscall.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), "hook-fd"))
		}
	}
	return files, nil
}

// procReceive speaks git's proc-receive protocol with receive-pack (in on the hook's stdin, out on its
// stdout): version negotiation, the commands, the push options, then one ok or ng per command. It returns
// the hook's exit status.
func (s *Server) procReceive(sess *pushSession, in io.Reader, out, stderr io.Writer) int {
	sc := pktline.NewScanner(in)
	enc := pktline.NewEncoder(out)
	// What the Receiver and git's commands say may name files on the server: scrubbed line by line.
	scrubbed := s.scrub.writer(stderr)
	defer scrubbed.Flush()
	stderr = scrubbed
	caps, err := readVersion(sc)
	if err != nil {
		sess.log.Warn("proc-receive", "err", err)
		fmt.Fprintf(stderr, "baleen: %v\n", err)
		return 1
	}
	// The hook gets the push options only if it asks for them in its answer.
	version := "version=1\n"
	if caps["push-options"] {
		version = "version=1\x00push-options\n"
	}
	if err := errors.Join(enc.EncodeString(version), enc.Flush()); err != nil {
		return 1
	}
	updates, err := readSection(sc, parseUpdate)
	var options []string
	if err == nil && caps["push-options"] {
		options, err = readSection(sc, func(line string) (string, error) { return line, nil })
	}
	if err != nil {
		sess.log.Warn("proc-receive", "err", err)
		fmt.Fprintf(stderr, "baleen: %v\n", err)
		return 1
	}
	s.pushRepos.markReceived(sess.project)
	cert, err := readCert(sess.certFile)
	if err != nil {
		sess.log.Warn("push certificate", "err", err)
	}
	push := Push{Project: sess.project, RepoPath: sess.repo, Created: sess.created, Fingerprint: sess.fingerprint, Identity: sess.identity,
		Updates: updates, Options: options, Atomic: caps["atomic"], Certificate: cert}
	prog := startProgress(sess.client, stderr, func(reason string) {
		sess.log.Info("client gone; the push goes on", "err", reason)
	})
	reportCert(cert, prog, sess.log)
	errs := s.decide(push, prog, sess.log)
	prog.stopAndFlush()
	for i, u := range updates {
		if errs[i] == nil {
			err = enc.Encodef("ok %s\n", u.Name)
		} else {
			err = enc.Encodef("ng %s %s\n", u.Name, oneLine(s.scrub.String(errs[i].Error())))
		}
		if err != nil {
			return 0 // receive-pack is gone with its client; the refs moved all the same
		}
	}
	_ = enc.Flush()
	return 0
}

// readVersion reads "version=1\0<caps>" and its flush.
func readVersion(sc *pktline.Scanner) (map[string]bool, error) {
	caps := map[string]bool{}
	if !sc.Scan() {
		return nil, fmt.Errorf("proc-receive: no version line: %v", sc.Err())
	}
	line := string(sc.Bytes())
	v, capList, _ := strings.Cut(strings.TrimSuffix(line, "\n"), "\x00")
	if v != "version=1" {
		return nil, fmt.Errorf("proc-receive: unsupported %q", v)
	}
	for _, c := range strings.Fields(capList) {
		caps[c] = true
	}
	if !sc.Scan() || len(sc.Bytes()) != 0 {
		return nil, fmt.Errorf("proc-receive: want a flush after the version: %v", sc.Err())
	}
	return caps, nil
}

// readSection reads lines up to a flush, each parsed by parse.
func readSection[T any](sc *pktline.Scanner, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			return out, nil
		}
		v, err := parse(strings.TrimSuffix(string(line), "\n"))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return nil, fmt.Errorf("proc-receive: input ended before a flush: %v", sc.Err())
}

// parseUpdate parses "<old> <new> <ref>".
func parseUpdate(line string) (RefUpdate, error) {
	f := strings.Fields(line)
	if len(f) != 3 || len(f[0]) != 40 || len(f[1]) != 40 {
		return RefUpdate{}, fmt.Errorf("proc-receive: malformed command %q", line)
	}
	return RefUpdate{Name: f[2], Old: f[0], New: f[1]}, nil
}

// RunHook is the proc-receive hook's side: `baleen hook proc-receive` calls it with the process's standard
// streams. It hands them to the server named by BALEEN_HOOK_SOCKET, with the push's BALEEN_PUSH_TOKEN, and
// returns the exit status the server sends back (1 when the server cannot be reached).
func RunHook(getenv func(string) string, stderr io.Writer) int {
	// receive-pack goes away with its client: writing to it must not kill the hook before the server
	// has answered (the build goes on and its ref moves regardless).
	signal.Ignore(syscall.SIGPIPE)
	sock, token := getenv(envHookSocket), getenv(envPushToken)
	if sock == "" || token == "" {
		fmt.Fprintln(stderr, "baleen hook: run by git receive-pack under baleen serve only")
		return 2
	}
	// What the hook prints reaches the pusher: its errors name no path of the server (the socket's).
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		fmt.Fprintf(stderr, "baleen hook: cannot reach the server: %v\n", causeOf(err))
		return 1
	}
	defer conn.Close()
	rights := syscall.UnixRights(0, 1, 2)
	if _, _, err := conn.WriteMsgUnix([]byte(token+"\n"), rights, nil); err != nil {
		fmt.Fprintf(stderr, "baleen hook: cannot reach the server: %v\n", causeOf(err))
		return 1
	}
	var code [1]byte
	if _, err := io.ReadFull(conn, code[:]); err != nil {
		fmt.Fprintf(stderr, "baleen hook: the server went away: %v\n", causeOf(err))
		return 1
	}
	return int(code[0])
}

// causeOf is the system's reason inside a socket error, without the addresses the error names.
func causeOf(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}
