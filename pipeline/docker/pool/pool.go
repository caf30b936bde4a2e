package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/docker"
)

// DefaultHealthInterval is how often the pool pings each engine.
const DefaultHealthInterval = 10 * time.Second

// Options tune a Pool.
type Options struct {
	// Logger receives the pool's diagnostics; nil discards them.
	Logger *slog.Logger
	// Engine is the template of each engine's options; its Name and Logger are set per engine.
	Engine docker.Options
	// HealthInterval is how often each engine is pinged; DefaultHealthInterval when 0.
	HealthInterval time.Duration
	// Finished reports whether a build is over (its record is final, or unknown to the server), so that
	// what it left on an engine that comes back may be removed. Nil means: never sweep.
	Finished func(baleen.BuildID) bool
}

// State is an engine's state in the pool.
type State string

// The states of an engine.
const (
	// StateUp: the engine answers and takes builds.
	StateUp State = "up"
	// StateDown: the engine stopped answering; it takes no new builds until it answers again.
	StateDown State = "down"
)

// member is one engine of the pool.
type member struct {
	name   string
	host   string
	slots  int
	labels []string
	engine *docker.Engine

	// guarded by Pool.mu
	state  State
	reason string
	since  time.Time
	builds []baleen.BuildID
}

// Pool hands out the build slots of several Docker engines and watches their health. It is safe for
// concurrent use.
//
// Call order: New (or Single), then Run in a goroutine of its own for the health checks, then, for each
// build, Acquire, the build's whole work on Lease.Engine, and Lease.Release; Close at the end.
type Pool struct {
	log      *slog.Logger
	interval time.Duration
	finished func(baleen.BuildID) bool
	members  []*member // sorted by name

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever a slot frees or an engine's state changes
}

// New returns a Pool on the engines of cfg, which must be valid (Config.Validate). Engines start as up;
// the first health check, made by Run, corrects that.
func New(cfg Config, opts Options) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := newPool(opts)
	for _, name := range cfg.names() {
		ec := cfg[name]
		copts, err := clientOptions(ec)
		if err == nil {
			var c *client.Client
			c, err = client.New(copts...)
			if err == nil {
				p.add(name, ec, c, opts)
				continue
			}
		}
		p.Close()
		return nil, fmt.Errorf("engines.%s: client for %s: %w", name, ec.Host, err)
	}
	return p, nil
}

// Single returns a Pool of the one engine the environment names (DOCKER_HOST and friends), called
// "local", with slots build slots (1 when 0): what a server without an engines: section uses.
func Single(slots int, opts Options) (*Pool, error) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker client from environment: %w", err)
	}
	p := newPool(opts)
	p.add("local", EngineConfig{Host: c.DaemonHost(), Slots: slots}, c, opts)
	return p, nil
}

func newPool(opts Options) *Pool {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	interval := opts.HealthInterval
	if interval <= 0 {
		interval = DefaultHealthInterval
	}
	return &Pool{log: log, interval: interval, finished: opts.Finished, changed: make(chan struct{})}
}

// add makes an engine of the pool.
func (p *Pool) add(name string, ec EngineConfig, c client.APIClient, opts Options) {
	eopts := opts.Engine
	eopts.Name = name
	eopts.Logger = p.log.With("host", name)
	slots := ec.Slots
	if slots <= 0 {
		slots = 1
	}
	p.members = append(p.members, &member{
		name: name, host: ec.Host, slots: slots, labels: slices.Clone(ec.Labels),
		engine: docker.New(c, eopts), state: StateUp, since: time.Now(),
	})
}

// Lease is one build's slot on one engine. All the build's work (its images, containers and network, its
// dependency images) goes to Engine.
type Lease struct {
	// Name is the engine's name in the config.
	Name string
	// Engine is the engine to build on.
	Engine *docker.Engine

	p    *Pool
	m    *member
	id   baleen.BuildID
	once sync.Once
}

// Release gives the slot back. It may be called more than once.
func (l *Lease) Release() {
	l.once.Do(func() {
		l.p.mu.Lock()
		defer l.p.mu.Unlock()
		if i := slices.Index(l.m.builds, l.id); i >= 0 {
			l.m.builds = slices.Delete(l.m.builds, i, i+1)
		}
		l.p.signal()
	})
}

// Acquire waits for a free slot on an engine that is up and has every one of labels, takes it for build
// id and returns it. The engine chosen is the one with the most free slots (the first by name among
// equals), so that builds spread over the pool. When no engine of the pool has the labels, the error
// wraps baleen.ErrInvalid at once; when ctx ends first, ctx's error comes back. The engines named in avoid
// (those a build failed on, for its retry) are not used.
func (p *Pool) Acquire(ctx context.Context, id baleen.BuildID, labels []string, avoid ...string) (*Lease, error) {
	for {
		p.mu.Lock()
		m, offered := p.pick(labels, avoid)
		if m != nil {
			m.builds = append(m.builds, id)
			p.mu.Unlock()
			p.log.Debug("build placed", "build", id, "host", m.name)
			return &Lease{Name: m.name, Engine: m.engine, p: p, m: m, id: id}, nil
		}
		changed := p.changed
		p.mu.Unlock()
		if !offered {
			return nil, fmt.Errorf("place build %s: no engine%s has the labels %v: %w", id, besides(avoid), labels, baleen.ErrInvalid)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("place build %s: waiting for a free engine slot: %w", id, context.Cause(ctx))
		case <-changed:
		}
	}
}

// pick returns the up engine with labels, not in avoid, that has the most free slots, or nil; offered says
// whether some engine of the pool not in avoid, up or not, has the labels. p.mu is held.
func (p *Pool) pick(labels, avoid []string) (best *member, offered bool) {
	for _, m := range p.members {
		if !hasAll(m.labels, labels) || slices.Contains(avoid, m.name) {
			continue
		}
		offered = true
		free := m.slots - len(m.builds)
		if m.state != StateUp || free <= 0 {
			continue
		}
		if best == nil || free > best.slots-len(best.builds) {
			best = m
		}
	}
	return best, offered
}

// besides is " besides a, b" for the engines of avoid, or nothing.
func besides(avoid []string) string {
	if len(avoid) == 0 {
		return ""
	}
	return " besides " + strings.Join(avoid, ", ")
}

// signal wakes the builds waiting for a slot. p.mu is held.
func (p *Pool) signal() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Run checks the health of every engine now and then every health interval, until ctx ends. An engine
// that does not answer is marked down and takes no new builds (those already on it fail by their own
// calls' deadlines); one that answers again has the leftovers of finished builds removed (Options.Finished)
// and is marked up.
func (p *Pool) Run(ctx context.Context) {
	tick := time.NewTicker(p.interval)
	defer tick.Stop()
	for {
		p.CheckHealth(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// CheckHealth pings every engine at once and updates their states; Run calls it on its timer.
func (p *Pool) CheckHealth(ctx context.Context) {
	var wg sync.WaitGroup
	for _, m := range p.members {
		wg.Go(func() { p.check(ctx, m) })
	}
	wg.Wait()
}

// check pings one engine and updates its state, sweeping it when it comes back.
func (p *Pool) check(ctx context.Context, m *member) {
	err := m.engine.Ping(ctx)
	if ctx.Err() != nil {
		return
	}
	p.mu.Lock()
	was := m.state
	p.mu.Unlock()
	switch {
	case err != nil && was == StateUp:
		p.log.Warn("engine down", "host", m.name, "err", err)
		p.setState(m, StateDown, err.Error())
	case err == nil && was == StateDown:
		if p.finished != nil {
			cleared, serr := m.engine.Sweep(ctx, p.finished)
			if serr != nil {
				// Up all the same: what is left is swept again on its next return, or by the server.
				p.log.Warn("leftovers not all removed", "host", m.name, "err", serr)
			}
			p.log.Info("engine back", "host", m.name, "swept", len(cleared))
		}
		p.setState(m, StateUp, "")
	}
}

// setState records m's new state and wakes the waiting builds.
func (p *Pool) setState(m *member, s State, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m.state, m.reason, m.since = s, reason, time.Now()
	p.signal()
}

// Engines returns each engine of the pool by name, for work that is not a build's (sweeping at start-up,
// pruning images).
func (p *Pool) Engines() map[string]*docker.Engine {
	out := make(map[string]*docker.Engine, len(p.members))
	for _, m := range p.members {
		out[m.name] = m.engine
	}
	return out
}

// Close closes every engine's client.
func (p *Pool) Close() error {
	var errs []error
	for _, m := range p.members {
		if err := m.engine.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close engine %s: %w", m.name, err))
		}
	}
	return errors.Join(errs...)
}
