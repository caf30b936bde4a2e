package gitd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// DefaultKeepaliveInterval is how long a push may stay silent before the server sends a keepalive.
const DefaultKeepaliveInterval = 15 * time.Second

// ErrServerClosed is what Serve returns after Shutdown or Close.
var ErrServerClosed = errors.New("gitd: server closed")

// Config is what a Server needs.
type Config struct {
	// HostKeyPath is the server's ed25519 host key, an OpenSSH PEM file. It is created (mode 0600) on first
	// start and kept; a key file others may read is refused.
	HostKeyPath string
	// AuthorizedKeysPath is an OpenSSH authorized_keys file listing the keys that may push and run commands.
	// It is read again whenever its content changes; lines with options are refused.
	AuthorizedKeysPath string
	// Keys turns a key a client proved it holds into an identity (access.Policy); nil: every key of
	// AuthorizedKeysPath is admin.
	Keys KeyLookup
	// Authz decides what an identity may do with a project: read to clone or fetch, write to push and to
	// create a project by pushing to it. It is asked on every git command; nil allows every key everything.
	Authz baleen.Authorizer
	// ReposDir holds the bare repositories, one per project at ReposDir/<project>.git. It is created if
	// missing.
	ReposDir string
	// Logger receives the server's log; nothing is logged when it is nil.
	Logger *slog.Logger
	// Receiver decides each push's ref updates. It is required.
	Receiver Receiver
	// Commands answers every ssh command that is not git's own. When it is nil such commands fail.
	Commands CommandHandler
	// KeepaliveInterval is how long a push may stay silent, while the Receiver works, before the server
	// sends the client an empty progress packet; DefaultKeepaliveInterval when zero.
	KeepaliveInterval time.Duration
	// Hook is the command git runs as its proc-receive hook (`baleen hook`), which hands each push to this
	// Server; "proc-receive" is appended to it. It is required.
	Hook []string
	// StateDir holds the hook script and the socket the hook reaches the Server on; "gitd" beside ReposDir when
	// empty.
	StateDir string
	// MaxReceivePacks caps the pushes (git receive-pack processes, with their builds) that run at once;
	// DefaultMaxReceivePacks when zero. A push past the cap is refused with a message to try again.
	MaxReceivePacks int
	// GitMemoryLimit caps the address space of each git child (RLIMIT_AS, set with util-linux's prlimit),
	// so that a push whose deltas rebuild huge objects fails alone; DefaultGitMemoryLimit when zero, no cap
	// when negative.
	GitMemoryLimit int64
	// MaxInputSize caps the size of the pack one push may send (receive.maxInputSize);
	// DefaultMaxInputSize when zero.
	MaxInputSize int64
	// MaintenanceInterval is how often every repository gets `git maintenance run --auto`;
	// DefaultMaintenanceInterval when zero.
	MaintenanceInterval time.Duration
	// HandshakeTimeout bounds the time from a new connection to its authentication: a client that connects
	// and stalls (before or during key exchange or authentication) is dropped then, so that nobody without a
	// key can hold connections open. DefaultHandshakeTimeout when zero.
	HandshakeTimeout time.Duration
	// MaxUnauthenticated caps the connections that have not authenticated yet, in all;
	// DefaultMaxUnauthenticated when zero. Connections past it are closed at once.
	MaxUnauthenticated int
	// MaxUnauthenticatedPerSource caps them per client address; DefaultMaxUnauthenticatedPerSource when
	// zero.
	MaxUnauthenticatedPerSource int
	// RSAHostKeyPath, when set, is a second host key, RSA (3072 bits), made on first start like the
	// ed25519 one, for older clients that know no ed25519 (JSch in Jenkins or Eclipse).
	RSAHostKeyPath string
}

// Defaults of Config.
const (
	DefaultMaxReceivePacks = 32
	DefaultGitMemoryLimit  = 4 << 30
	DefaultMaxInputSize    = 8 << 30
)

// RefUpdate is one ref a push asks to move. Old and New are full hex object ids; a zero id ("000...0")
// as Old creates the ref, as New deletes it.
type RefUpdate struct {
	Name string
	Old  string
	New  string
}

// Push is one `git push`, after its objects are stored and before any of its refs moves.
type Push struct {
	// Project is the project pushed to, a name baleen.ValidateProjectName accepts.
	Project string
	// RepoPath is the project's bare repository on disk.
	RepoPath string
	// Created says that this push created the project's repository.
	Created bool
	// Fingerprint is the SHA256 fingerprint of the key the pusher proved it holds.
	Fingerprint string
	// Identity is who the pusher is: the user the key belongs to.
	Identity baleen.Identity
	// Updates are the ref updates that passed the server's own checks (ref name, objects present, old value
	// current), in the order the client sent them.
	Updates []RefUpdate
	// Options are the push options the client sent (git push -o ci.skip), in order.
	Options []string
	// Atomic says that the client asked for an atomic push: every ref moves, or none does.
	Atomic bool
	// Certificate is git's verdict on the push certificate of a signed push (git push --signed); nil when
	// the push was not signed.
	Certificate *PushCertificate
}

// Receiver decides a push's ref updates. The Server calls Receive once per push that has updates, after the
// pushed objects are stored and before any ref moves; pushes run Receive concurrently, even for one project.
//
// Receive returns one error per update, in order: nil lets the ref move (by compare-and-swap on Old, one
// push at a time per project, so a ref that moved meanwhile is still refused); a non-nil error keeps the
// ref and the client sees "! [remote rejected] <ref> (<err.Error()>)". A missing result counts as a refusal.
//
// What Receive writes to out reaches the client live, as `remote:` lines; writes never block and never
// fail. ctx is not cancelled when the client disconnects: the build goes on to its end and its refs still
// move if it passed; after a disconnect, writes to out are discarded. ctx ends only when the Server is
// closed. Receive may take as long as it needs (a 30 minute test run): the Server keeps the connection alive.
type Receiver interface {
	Receive(ctx context.Context, p Push, out io.Writer) []error
}

// PostReceiver is a Receiver that also wants to know which refs a push moved, once they have moved (git's
// post-receive hook). PostReceive is called after every Receive, once the refs moved (moved may be empty),
// and before the client hears the result; it must not block for long: start long work in the background.
type PostReceiver interface {
	PostReceive(ctx context.Context, p Push, moved []RefUpdate)
}

// CommandHandler answers the ssh commands that are not git's own (commands.Handler). Run is called once per
// ssh session, maybe concurrently with others, after the Server checked that the caller's key is still
// authorized; it returns the exit status the client sees. ctx ends when the client disconnects or the
// server closes, and carries the caller's identity (IdentityFrom). An empty c.Args means the client asked
// for a shell.
type CommandHandler interface {
	Run(ctx context.Context, c *baleen.Call) (exitCode int)
}

// Server is Baleen's SSH git remote. Call New, then Serve; end with Shutdown, or Close. Its methods are safe
// for concurrent use.
type Server struct {
	log       *slog.Logger
	reposDir  string
	receiver  Receiver
	commands  CommandHandler
	keepalive time.Duration
	keys      *authorizedKeys
	authz     baleen.Authorizer
	hostKey   gossh.Signer
	preauth   *preauth
	ssh       *ssh.Server
	locks     projectLocks
	refLocks  projectLocks // by project and ref: one push of a ref at a time
	pushRepos pushRepos    // receive-packs in flight, by project
	// allowedSigners is the empty allowed-signers file SSH push certificates are checked with; certDir
	// holds each signed push's verdict, by token.
	allowedSigners, certDir string
	scrub                   *pathScrubber
	git                     *gitRunner

	stateDir     string
	hookArgv     []string
	hooksDir     string
	hookSock     string
	hookOnce     sync.Once
	hookLn       *net.UnixListener
	receiveSlots chan struct{}
	maxInputSize int64
	nonceSeed    string
	// maintenanceEvery is how often every repository gets git maintenance.
	maintenanceEvery time.Duration

	// base is the context of the work a session starts that outlives its client (a push's Receive). It ends
	// on Close.
	base   context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	running int           // sessions whose work has not finished, including pushes whose client left
	idle    chan struct{} // closed when running drops to 0; nil while it is 0 and nobody waits
	closed  bool
	pushes  map[string]*pushSession // by token
}

// New checks cfg, creates the repositories directory and the host key if they are missing, and returns a
// Server ready to Serve.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.HostKeyPath == "":
		return nil, errors.New("gitd: HostKeyPath is required")
	case cfg.AuthorizedKeysPath == "":
		return nil, errors.New("gitd: AuthorizedKeysPath is required")
	case cfg.ReposDir == "":
		return nil, errors.New("gitd: ReposDir is required")
	case cfg.Receiver == nil:
		return nil, errors.New("gitd: Receiver is required")
	case len(cfg.Hook) == 0:
		return nil, errors.New("gitd: Hook is required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.KeepaliveInterval <= 0 {
		cfg.KeepaliveInterval = DefaultKeepaliveInterval
	}
	if err := os.MkdirAll(cfg.ReposDir, 0o750); err != nil {
		return nil, fmt.Errorf("repositories dir: %w", err)
	}
	hostKey, err := loadOrCreateHostKey(cfg.HostKeyPath)
	if err != nil {
		return nil, err
	}
	cfg = withDefaults(cfg)
	seed, err := newToken()
	if err != nil {
		return nil, err
	}
	s := &Server{
		git:              newGitRunner(cfg.GitMemoryLimit, nil),
		stateDir:         cfg.StateDir,
		hookArgv:         cfg.Hook,
		receiveSlots:     make(chan struct{}, cfg.MaxReceivePacks),
		maxInputSize:     cfg.MaxInputSize,
		nonceSeed:        seed,
		maintenanceEvery: cfg.MaintenanceInterval,
		pushes:           map[string]*pushSession{},
		scrub:            newPathScrubber(cfg.ReposDir, cfg.StateDir),
		preauth: &preauth{max: cfg.MaxUnauthenticated, perSource: cfg.MaxUnauthenticatedPerSource,
			timeout: cfg.HandshakeTimeout, bySource: map[string][]*pending{}},
		log:       log,
		reposDir:  cfg.ReposDir,
		receiver:  cfg.Receiver,
		commands:  cfg.Commands,
		keepalive: cfg.KeepaliveInterval,
		keys:      &authorizedKeys{path: cfg.AuthorizedKeysPath, log: log, lookup: cfg.Keys},
		authz:     cfg.Authz,
		hostKey:   hostKey,
	}
	s.base, s.cancel = context.WithCancel(context.Background())
	signers := []ssh.Signer{hostKey}
	if cfg.RSAHostKeyPath != "" {
		rsaKey, err := loadOrCreateRSAHostKey(cfg.RSAHostKeyPath)
		if err != nil {
			return nil, err
		}
		signers = append(signers, rsaKey)
	}
	s.ssh = &ssh.Server{
		Version:     "Baleen",
		HostSigners: signers,
		// The handler only says whether an offered key is listed. A client may offer keys it does not hold,
		// so the identity is taken later, from the key whose signature checked out (serverConfig).
		PublicKeyHandler:     func(_ ssh.Context, key ssh.PublicKey) bool { return s.keys.authorized(key) },
		ServerConfigCallback: s.serverConfig,
		ChannelHandlers:      map[string]ssh.ChannelHandler{"session": s.handleSession},
		RequestHandlers:      map[string]ssh.RequestHandler{},
		SubsystemHandlers:    map[string]ssh.SubsystemHandler{},
		ConnCallback:         s.connCallback,
		ConnectionFailedCallback: func(conn net.Conn, err error) {
			log.Debug("ssh handshake failed", "host", conn.RemoteAddr().String(), "err", err)
		},
	}
	return s, nil
}

// withDefaults fills in the settings cfg leaves at zero.
func withDefaults(cfg Config) Config {
	if cfg.StateDir == "" {
		cfg.StateDir = filepath.Join(filepath.Dir(cfg.ReposDir), "gitd")
	}
	if cfg.MaxReceivePacks <= 0 {
		cfg.MaxReceivePacks = DefaultMaxReceivePacks
	}
	switch {
	case cfg.GitMemoryLimit == 0:
		cfg.GitMemoryLimit = DefaultGitMemoryLimit
	case cfg.GitMemoryLimit < 0:
		cfg.GitMemoryLimit = 0
	}
	if cfg.MaintenanceInterval <= 0 {
		cfg.MaintenanceInterval = DefaultMaintenanceInterval
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.MaxUnauthenticated <= 0 {
		cfg.MaxUnauthenticated = DefaultMaxUnauthenticated
	}
	if cfg.MaxUnauthenticatedPerSource <= 0 {
		cfg.MaxUnauthenticatedPerSource = DefaultMaxUnauthenticatedPerSource
	}
	if cfg.MaxInputSize <= 0 {
		cfg.MaxInputSize = DefaultMaxInputSize
	}
	return cfg
}

// serverConfig is the x/crypto configuration of one connection. gliderlabs/ssh adds the host key and the
// public key callback; password and keyboard-interactive authentication stay off.
//
// VerifiedPublicKeyCallback runs only for the key the client signed with, after the signature checked out.
// Its Permissions, a fresh object per connection, become the connection's: that, and nothing the offer
// callback saw, is where the pusher's identity comes from.
func (s *Server) serverConfig(ctx ssh.Context) *gossh.ServerConfig {
	return &gossh.ServerConfig{
		// Called once, at the client's first authentication request, after the key exchange: the
		// connection then goes last among those a newcomer may evict (preauth). It sends no banner.
		BannerCallback: func(gossh.ConnMetadata) string {
			keyExchanged(ctx)
			return ""
		},
		VerifiedPublicKeyCallback: func(conn gossh.ConnMetadata, key gossh.PublicKey, _ *gossh.Permissions, _ string) (*gossh.Permissions, error) {
			perms, err := s.keys.permissions(key)
			if err != nil {
				return nil, err
			}
			if err := authenticated(ctx); err != nil {
				return nil, err
			}
			return perms, nil
		},
	}
}

// HostKey is the server's public host key, for a known_hosts line or a fingerprint to show.
func (s *Server) HostKey() gossh.PublicKey { return s.hostKey.PublicKey() }

// Serve accepts ssh connections on l until Shutdown or Close, then returns ErrServerClosed; any other error
// from l ends it too. l is closed when Serve returns.
func (s *Server) Serve(l net.Listener) error {
	var herr error
	s.hookOnce.Do(func() {
		s.hooksDir, s.hookSock, s.hookLn, herr = setupHooks(s.stateDir, s.hookArgv)
		if herr == nil {
			s.allowedSigners, s.certDir, herr = setupCerts(s.stateDir, s.hooksDir)
		}
		if herr == nil {
			go s.acceptHooks(s.hookLn)
			go s.maintain(s.base, s.maintenanceEvery)
		}
	})
	if herr != nil {
		_ = l.Close()
		return herr
	}
	err := s.ssh.Serve(gatedListener{Listener: l, s: s})
	if errors.Is(err, ssh.ErrServerClosed) {
		return ErrServerClosed
	}
	return fmt.Errorf("serve ssh: %w", err)
}

// Shutdown stops accepting connections and waits, until ctx ends, for the connections and the pushes still
// running (also those whose client left) to finish. It does not cancel the Receivers; Close does.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	err := s.ssh.Shutdown(ctx)
	if err != nil && !errors.Is(err, ssh.ErrServerClosed) {
		return fmt.Errorf("shut down ssh: %w", err)
	}
	if err := s.waitIdle(ctx); err != nil {
		return fmt.Errorf("wait for pushes: %w", err)
	}
	s.closeHooks()
	return nil
}

// closeHooks stops taking hook connections.
func (s *Server) closeHooks() {
	s.hookOnce.Do(func() {})
	if s.hookLn != nil {
		_ = s.hookLn.Close()
	}
}

// Close closes the listeners and every connection at once and cancels the contexts of running Receivers.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.closeHooks()
	if err := s.ssh.Close(); err != nil {
		return fmt.Errorf("close ssh: %w", err)
	}
	return nil
}

// begin records a session's work starting; it fails once the server is shutting down.
func (s *Server) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.running++
	return true
}

func (s *Server) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running--
	if s.running == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
}

func (s *Server) waitIdle(ctx context.Context) error {
	s.mu.Lock()
	if s.running == 0 {
		s.mu.Unlock()
		return nil
	}
	if s.idle == nil {
		s.idle = make(chan struct{})
	}
	idle := s.idle
	s.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// call is one ssh command being served.
type call struct {
	ctx            context.Context // ends when the client disconnects
	stdin          io.Reader
	stdout, stderr io.Writer
	fingerprint    string
	identity       baleen.Identity
	conn           *gossh.ServerConn
	// gitProtocol is the GIT_PROTOCOL the client sent with an env request ("version=2"), or "".
	gitProtocol string
}

func (c *call) errorf(format string, args ...any) {
	fmt.Fprintf(c.stderr, format, args...)
}

// handleSession serves one session channel: exactly one "exec" (or "shell") request; every other request
// (pty, env, subsystem, agent or X11 forwarding) is refused. Channels of other types, port forwarding among
// them, are refused by gliderlabs/ssh, which only knows "session" here.
func (s *Server) handleSession(_ *ssh.Server, conn *gossh.ServerConn, nc gossh.NewChannel, ctx ssh.Context) {
	id, ok := connIdentity(conn)
	if !ok {
		_ = nc.Reject(gossh.Prohibited, "not authenticated")
		return
	}
	fp := id.Fingerprint
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	sctx, cancel := context.WithCancel(WithIdentity(ctx, id))
	defer cancel()
	started := false
	gitProtocol := ""
	for req := range reqs {
		var line string
		switch req.Type {
		case "env":
			// Only GIT_PROTOCOL, which selects git's wire protocol (v2), is taken.
			var kv struct{ Name, Value string }
			ok := gossh.Unmarshal(req.Payload, &kv) == nil && kv.Name == "GIT_PROTOCOL" && gitProtocolValue.MatchString(kv.Value)
			if ok && !started {
				gitProtocol = kv.Value
			}
			_ = req.Reply(ok, nil)
			continue
		case "exec":
			var payload struct{ Command string }
			if err := gossh.Unmarshal(req.Payload, &payload); err != nil {
				_ = req.Reply(false, nil)
				continue
			}
			line = payload.Command
		case "shell":
		default:
			_ = req.Reply(false, nil)
			continue
		}
		if started || !s.begin() {
			_ = req.Reply(false, nil)
			continue
		}
		started = true
		_ = req.Reply(true, nil)
		c := &call{ctx: sctx, stdin: ch, stdout: ch, stderr: ch.Stderr(), fingerprint: fp, identity: id, conn: conn, gitProtocol: gitProtocol}
		go func() {
			defer s.end()
			code := s.run(c, line, req.Type == "shell")
			_, _ = ch.SendRequest("exit-status", false, gossh.Marshal(struct{ Status uint32 }{uint32(code)}))
			_ = ch.Close()
		}()
	}
}

// run serves one command line and returns its exit status. It is the one path of every ssh command, git's
// own and the others alike: each is refused unless the caller's key still stands for the identity the
// connection opened with, so that a key removed from its file can do nothing more, whatever the command
// and even on a connection it opened before.
func (s *Server) run(c *call, line string, shell bool) int {
	if !s.stillAuthorized(c) {
		s.log.Info("command refused: key no longer authorized", "key", c.fingerprint)
		c.errorf("baleen: key %s is no longer authorized on this server\n", c.fingerprint)
		return 1
	}
	if shell {
		return s.command(c, nil)
	}
	args, err := splitWords(line)
	if err != nil {
		c.errorf("baleen: %v\n", err)
		return 1
	}
	req, err := parseGitCommand(args)
	switch {
	case errors.Is(err, errNotGit):
		return s.command(c, args)
	case err != nil:
		s.log.Info("git command refused", "key", c.fingerprint, "err", err)
		c.errorf("baleen: %v\n", err)
		return 1
	default:
		return s.serveGit(c, req)
	}
}

// command hands a non-git command to the CommandHandler.
func (s *Server) command(c *call, args []string) int {
	if s.commands == nil {
		if len(args) == 0 {
			c.errorf("baleen: no shell here; use git push, git clone or git fetch\n")
		} else {
			c.errorf("baleen: unknown command %q; use git push, git clone or git fetch\n", args[0])
		}
		return 1
	}
	return s.commands.Run(c.ctx, &baleen.Call{Identity: c.identity, Args: args, Stdin: c.stdin, Stdout: c.stdout, Stderr: c.stderr})
}

// stillAuthorized reports whether the key the caller proved it holds is still authorized, now, and still
// stands for the identity the connection opened with (a key moved to another user stands for someone else).
func (s *Server) stillAuthorized(c *call) bool {
	if c.conn == nil || c.conn.Permissions == nil {
		return false
	}
	key, err := gossh.ParsePublicKey([]byte(c.conn.Permissions.Extensions[extKey]))
	if err != nil {
		return false
	}
	now, ok := s.keys.keys().Lookup(key)
	return ok && now.User == c.identity.User && now.Fingerprint == c.identity.Fingerprint
}
