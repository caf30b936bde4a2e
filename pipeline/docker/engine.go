package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/baleen-ci/baleen"
)

// Labels the Engine puts on what it makes, besides baleen.LabelBuild.
const (
	// LabelRole is the container label holding ContainerSpec.Role.
	LabelRole = "baleen.role"
	// LabelName is the container label holding ContainerSpec.Name.
	LabelName = "baleen.name"
)

// DefaultCleanupTimeout bounds the work an Engine does after the caller's context ended or a container
// stopped: killing the container of a cancelled Run, draining the output of one that exited.
const DefaultCleanupTimeout = 15 * time.Second

// DefaultCallTimeout bounds each engine call that answers at once (create, inspect, remove, list...), and
// each liveness check made during a long one (a build, a container's run, its logs).
const DefaultCallTimeout = 30 * time.Second

// DefaultWatchInterval is how often a long engine call checks that the engine still answers.
const DefaultWatchInterval = 10 * time.Second

// Options tune an Engine. The zero Options are ready to use.
type Options struct {
	// Name names the engine in messages ("engine build-2 stopped answering"); the engine's address when
	// empty.
	Name string
	// Logger receives the Engine's own diagnostics (not build output); nil discards them.
	Logger *slog.Logger
	// CleanupTimeout bounds the work done after the caller's context ended or a container stopped;
	// DefaultCleanupTimeout when 0.
	CleanupTimeout time.Duration
	// CallTimeout is the deadline of each call that answers at once and of each liveness check;
	// DefaultCallTimeout when 0. An engine that lets it pass is taken as stopped: the call fails with an
	// error wrapping baleen.ErrUnavailable.
	CallTimeout time.Duration
	// WatchInterval is how often long calls check the engine; DefaultWatchInterval when 0.
	WatchInterval time.Duration
	// Classic builds every image with the classic builder, even on engines that offer BuildKit.
	Classic bool
	// OnStep, when set, is told of each BuildKit step as it ends, for metrics and tests. It is called
	// from the goroutine of the build and must not block.
	OnStep func(Step)
}

// Engine is a baleen.Engine on the Docker Engine API. It is safe for concurrent use by many builds.
type Engine struct {
	client         client.APIClient
	log            *slog.Logger
	name           string
	cleanupTimeout time.Duration
	callTimeout    time.Duration
	watchInterval  time.Duration
	forceClassic   bool
	onStep         func(Step)

	mu            sync.Mutex // guards the BuildKit answer
	buildKitKnown bool
	buildKit      bool
	noBuildKitWhy string
	// toldClassic holds the builds already told that the engine builds without BuildKit.
	toldClassic sync.Map
}

var (
	_ baleen.Engine          = (*Engine)(nil)
	_ baleen.ImageBuilder    = (*Engine)(nil)
	_ baleen.ContainerRunner = (*Engine)(nil)
)

// New returns an Engine that speaks through c. The Engine takes c over: Close closes it.
func New(c client.APIClient, opts Options) *Engine {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name := opts.Name
	if name == "" {
		name = c.DaemonHost()
	}
	return &Engine{
		client:         c,
		log:            log,
		name:           name,
		cleanupTimeout: orDefault(opts.CleanupTimeout, DefaultCleanupTimeout),
		callTimeout:    orDefault(opts.CallTimeout, DefaultCallTimeout),
		watchInterval:  orDefault(opts.WatchInterval, DefaultWatchInterval),
		forceClassic:   opts.Classic,
		onStep:         opts.OnStep,
	}
}

// orDefault is d, or def when d is not positive.
func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Name is the engine's name in messages: Options.Name, or its address.
func (e *Engine) Name() string { return e.name }

// FromEnv returns an Engine on the engine the environment names (DOCKER_HOST, DOCKER_API_VERSION,
// DOCKER_CERT_PATH, DOCKER_TLS_VERIFY), or on the local socket when it names none. The API version is
// negotiated with the engine on first contact (the client's default since moby client v0.6), unless
// DOCKER_API_VERSION fixes it.
func FromEnv(opts Options) (*Engine, error) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker client from environment: %w", err)
	}
	return New(c, opts), nil
}

// Close releases the client's connections.
func (e *Engine) Close() error {
	return e.client.Close()
}

// Client returns the API client the Engine speaks through, for tests and tools that need what the Engine
// does not offer.
func (e *Engine) Client() client.APIClient { return e.client }

// Ping checks that the engine answers and settles the API version. An engine that does not answer gives
// an error wrapping baleen.ErrUnavailable that names the address tried.
func (e *Engine) Ping(ctx context.Context) error {
	_, err := call(ctx, e, func(ctx context.Context) (client.PingResult, error) {
		return e.client.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	})
	if err == nil {
		return nil
	}
	var unavailable *unavailableError
	if errors.As(err, &unavailable) {
		return err
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("ping docker engine at %s: %w", e.client.DaemonHost(), ctxErr)
	}
	return &unavailableError{host: e.client.DaemonHost(), err: err}
}

// unavailableError is a failure to reach the engine, or an engine that stopped answering; it wraps
// baleen.ErrUnavailable and the cause.
type unavailableError struct {
	host string
	// name is set for an engine that stopped answering: it was reached, then let a deadline pass.
	name string
	err  error
}

func (e *unavailableError) Error() string {
	if e.name != "" {
		return fmt.Sprintf("engine %s stopped answering: %v", e.name, e.err)
	}
	return fmt.Sprintf("docker engine at %s does not answer: %v (is dockerd running? set DOCKER_HOST)", e.host, e.err)
}

func (e *unavailableError) Unwrap() []error { return []error{baleen.ErrUnavailable, e.err} }

// kindError gives an engine error one of baleen's sentinels without changing its text.
type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string { return e.err.Error() }

func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// fail wraps err from the engine with what was being done, translating a connection failure into
// baleen.ErrUnavailable and a missing object into baleen.ErrNotFound. It returns nil for a nil err.
func (e *Engine) fail(err error, what string) error {
	var unavailable *unavailableError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &unavailable):
		return fmt.Errorf("%s: %w", what, err)
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", what, err)
	case isConnectionFailure(err):
		return fmt.Errorf("%s: %w", what, &unavailableError{host: e.client.DaemonHost(), err: err})
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("%s: %w", what, &kindError{kind: baleen.ErrNotFound, err: err})
	}
	return fmt.Errorf("%s: %w", what, err)
}

// isConnectionFailure reports whether err says the engine could not be reached at all. The client marks
// most such errors; a hijacked connection (exec, attach) that cannot dial comes back as a plain dial error.
func isConnectionFailure(err error) bool {
	if client.IsErrConnectionFailed(err) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// cleanupContext returns a context for work that must happen even though ctx ended, such as killing a
// container: it keeps ctx's values, drops its cancellation and is bounded by the cleanup timeout.
func (e *Engine) cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), e.cleanupTimeout)
}

// networkName is the name of a build's network.
func networkName(id baleen.BuildID) string { return "baleen-" + string(id) }

// buildFilter selects the objects labelled with a build's id.
func buildFilter(id baleen.BuildID) client.Filters {
	return make(client.Filters).Add("label", baleen.LabelBuild+"="+string(id))
}
