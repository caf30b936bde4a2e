package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/baleen-ci/baleen"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Projects is what the web reads of projects.
type Projects interface {
	Project(ctx context.Context, name string) (baleen.Project, error)
	Projects(ctx context.Context) ([]baleen.Project, error)
}

// Builds is what the web reads of builds and their logs.
type Builds interface {
	Build(ctx context.Context, project string, number int) (baleen.Build, error)
	Builds(ctx context.Context, f baleen.BuildFilter) ([]baleen.Build, error)
	Log(ctx context.Context, project string, number int, offset int64) (io.ReadCloser, error)
}

// Releases is what the web reads of releases.
type Releases interface {
	Releases(ctx context.Context, project string, limit int) ([]baleen.Release, error)
}

// Actions does what a signed-in user may ask of a build. The server has checked the caller's role before it
// calls them; by names who asked ("web by alice"). Each returns once the work is started or refused, not when
// it ends.
type Actions interface {
	// Rebuild builds the commit of build number again, acting for id (whose roles decide which projects of
	// the server its dependencies may name), and returns the new build's number (0 when not yet known).
	Rebuild(ctx context.Context, project string, number int, by string, id baleen.Identity) (int, error)
	// Cancel stops a queued or running build.
	Cancel(ctx context.Context, project string, number int) error
	// Deploy rolls build number out to its target.
	Deploy(ctx context.Context, project string, number int, by string) error
	// Rollback returns the project's target to release number (0: the one before the current).
	Rollback(ctx context.Context, project string, release int, by string) error
}

// Pinger answers whether a dependency (the Docker engine) is reachable, for /readyz.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Config wires a Server. Projects, Builds and Authorizer are required.
type Config struct {
	Projects Projects
	Builds   Builds
	// Releases, when set, shows releases.
	Releases Releases
	// Journals, when set, shows the end of each deployed unit's journal per host on the releases page.
	Journals Journals
	// Tests, when set, tells each failure on a build's page apart by its history: new, failing since
	// build N, flaky.
	Tests baleen.TestHistory
	// Events, when set, makes logs and pages live and feeds the metrics.
	Events baleen.EventSource
	// Actions, when set, offers rebuild, cancel, deploy and rollback to those allowed.
	Actions    Actions
	Authorizer baleen.Authorizer
	// Tokens keeps API tokens; when nil, only sessions and public access are accepted.
	Tokens TokenStore
	// Sessions keeps the web sessions that sign-in links open; when nil, nobody can sign in.
	Sessions SessionStore
	// ArtifactsDir holds each build's artifacts at ArtifactsDir/<project>/<number>.
	ArtifactsDir string
	// Engine, when set, must answer for /readyz.
	Engine Pinger
	// StoreSize, when set, reports the store's size in bytes for /metrics.
	StoreSize func() int64
	// Public makes every project readable without signing in; PublicProjects does so for some.
	Public         bool
	PublicProjects []string
	// TrustedProxies are the addresses (CIDRs) of reverse proxies whose X-Forwarded-Proto and
	// X-Forwarded-For are believed.
	TrustedProxies []string
	// BaseURL is the server's address as people reach it ("https://ci.example.com"), used in sign-in links;
	// when empty, links are made from the listener's address.
	BaseURL string
	// Hooks, when set, answers POST /hooks/<project>: the forges' webhooks, which verify themselves.
	Hooks  http.Handler
	Logger *slog.Logger
}

// readTimeout bounds reading a whole request, body included, so that a client sending slowly cannot hold a
// connection; idleTimeout closes a kept-alive connection that sends no next request. There is no write
// timeout: live logs stream for as long as a build runs (net/http lifts the read deadline once a handler
// has read the request, so a stream outlasts readTimeout).
const (
	readTimeout = time.Minute
	idleTimeout = 2 * time.Minute
)

// Server serves the web pages, the API, badges and metrics. Its methods are safe for concurrent use.
type Server struct {
	cfg      Config
	log      *slog.Logger
	pages    map[string]*template.Template
	static   fs.FS
	sessions *sessions
	metrics  *Metrics
	hubs     *hubs
	streams  *streamLimit
	proxies  []*net.IPNet
	http     *http.Server
	mux      *http.ServeMux
	stop     context.CancelFunc
	base     context.Context
	// engines: ShowEngines was called, so the signed-in see a link to the engines page.
	engines bool
}

// New returns a Server. It starts counting metrics from the events at once; Close stops it.
func New(cfg Config) (*Server, error) {
	if cfg.Projects == nil || cfg.Builds == nil || cfg.Authorizer == nil {
		return nil, fmt.Errorf("web: Projects, Builds and Authorizer are required: %w", baleen.ErrInvalid)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	proxies, err := parseCIDRs(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	static, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, err
	}
	base, stop := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, log: cfg.Logger, pages: pages, static: static, sessions: newSessions(cfg.Sessions), proxies: proxies,
		base: base, stop: stop}
	s.metrics = newMetrics(cfg.StoreSize)
	s.hubs = &hubs{s: s, m: map[hubKey]*hub{}}
	s.streams = &streamLimit{max: maxStreams, open: map[string]int{}}
	if cfg.Events != nil {
		go s.metrics.count(base, cfg.Events)
	}
	s.mux = s.routes()
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: readTimeout, IdleTimeout: idleTimeout,
		BaseContext: func(net.Listener) context.Context { return base }}
	return s, nil
}

// Metrics returns the server's metrics, for the parts that count what events do not carry (pushes, clones).
func (s *Server) Metrics() *Metrics { return s.metrics }

// Serve answers HTTP on l until Shutdown or Close.
func (s *Server) Serve(l net.Listener) error {
	err := s.http.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// ServeTLS answers HTTPS on l with the certificate and key files until Shutdown or Close.
func (s *Server) ServeTLS(l net.Listener, certFile, keyFile string) error {
	err := s.http.ServeTLS(l, certFile, keyFile)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections, ends live streams and waits for requests to finish until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop()
	return s.http.Shutdown(ctx)
}

// Close stops the server at once.
func (s *Server) Close() error {
	s.stop()
	return s.http.Close()
}

// ServeHTTP answers one request: security headers, then the route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	s.mux.ServeHTTP(w, r)
}

func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", s.page(s.dashboard))
	m.HandleFunc("GET /p/{project}", s.page(s.projectPage))
	m.HandleFunc("GET /p/{project}/releases", s.page(s.releasesPage))
	m.HandleFunc("GET /p/{project}/b/{n}", s.page(s.buildPage))
	m.HandleFunc("GET /p/{project}/b/{n}/log.txt", s.rawLog)
	m.HandleFunc("GET /p/{project}/b/{n}/live", s.live)
	m.HandleFunc("GET /p/{project}/b/{n}/artifacts/{path...}", s.artifact)
	m.HandleFunc("POST /p/{project}/b/{n}/{action}", s.webAction)
	m.HandleFunc("POST /p/{project}/rollback", s.webRollback)
	m.HandleFunc("GET /login/{token}", s.loginPage)
	m.HandleFunc("POST /login/{token}", s.login)
	m.HandleFunc("POST /logout", s.logout)
	m.Handle("GET /static/", http.StripPrefix("/static/", staticHandler(s.static)))
	m.HandleFunc("GET /badge/{project}/{file}", s.statusBadge)
	m.HandleFunc("GET /badge/{project}/{branch}/coverage.svg", s.coverageBadge)
	m.HandleFunc("GET /metrics", s.metricsHandler)
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	m.HandleFunc("GET /readyz", s.readyz)
	if s.cfg.Hooks != nil {
		m.Handle("POST /hooks/{project}", s.cfg.Hooks)
	}
	for _, r := range apiRoutes(s) {
		m.HandleFunc(r.method+" "+r.path, r.handler)
	}
	return m
}

// staticHandler serves the embedded assets with a day's cache.
func staticHandler(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	// Anyone may ask: the answer names what is not ready, the log says why (an engine's error holds its
	// address).
	if _, err := s.cfg.Projects.Projects(ctx); err != nil {
		s.log.Error("readyz: store", "err", err)
		http.Error(w, "store: not ready", http.StatusServiceUnavailable)
		return
	}
	if s.cfg.Engine != nil {
		if err := s.cfg.Engine.Ping(ctx); err != nil {
			s.log.Error("readyz: engine", "err", err)
			http.Error(w, "engine: not answering", http.StatusServiceUnavailable)
			return
		}
	}
	io.WriteString(w, "ready\n")
}

func parseCIDRs(list []string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, c := range list {
		if ip := net.ParseIP(c); ip != nil {
			bits := 32
			if ip.To4() == nil {
				bits = 128
			}
			out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(c)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: want an address or a CIDR: %w", c, baleen.ErrInvalid)
		}
		out = append(out, n)
	}
	return out, nil
}

// fromProxy reports whether r came through a trusted proxy.
func (s *Server) fromProxy(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	for _, n := range s.proxies {
		if ip != nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

// secure reports whether the client reached us over TLS, directly or through a trusted proxy.
func (s *Server) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return s.fromProxy(r) && r.Header.Get("X-Forwarded-Proto") == "https"
}
