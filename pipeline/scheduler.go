package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/events"
	"github.com/baleen-ci/baleen/internal/syncio"
	"github.com/baleen-ci/baleen/pipeline/queue"
	"github.com/baleen-ci/baleen/pipeline/retention"
)

// ErrNothingToBuild: the commit has no baleen.yml at its root.
var ErrNothingToBuild = errors.New("nothing to build: no baleen.yml")

// SchedulerImages is what the scheduler needs of the engine's images: whether one is still there (before
// it reuses a dependency's build or deploys an old build again), and listing and removing them for
// pruning (retention.ImageStore). pipeline/docker's Engine has it; it is safe for concurrent use.
type SchedulerImages = baleen.ImageStore

// EventBus is where the scheduler publishes the events of builds and releases and where their readers
// subscribe; events.Bus is one.
type EventBus interface {
	baleen.EventPublisher
	baleen.EventSource
}

// SchedulerConfig wires a Scheduler.
type SchedulerConfig struct {
	Pipeline *Pipeline
	Projects baleen.ProjectStore
	Builds   baleen.BuildStore
	Repos    DependencyRepos
	// LocalSources are the directories on the server under which a dependency's src may name a repository
	// by path (an absolute path or a file:// URL); with none, every such src is refused. A src elsewhere, or
	// one that is missing or no repository, is refused in the same words, so that no pusher can tell which
	// paths exist on the server.
	LocalSources []string
	// Images, when set, lets dependency builds be reused while their images exist, and old images be pruned.
	Images SchedulerImages
	// Registry, when set, lets builds push their images as their baleen.yml says.
	Registry *Registry
	// KeepGreen is how many of a project's latest green builds keep their images when the others' are
	// pruned after each build; retention.DefaultKeepGreen when 0, and no pruning when negative.
	KeepGreen int
	// Deployer and Releases, when set, run the deploy stage of green builds of the deploy branch and keep
	// the releases; the images of released builds are never pruned.
	Deployer baleen.Deployer
	Releases baleen.ReleaseStore
	// DeployTargets, when set with a Deployer, are the names of the targets it deploys to: a baleen.yml
	// whose deploy.target is none of them fails its config stage, at the line, on any branch.
	DeployTargets []string
	// Events receives the events of builds and releases; a bus of the scheduler's own when nil.
	Events EventBus
	// Tests, when set, keeps each build's test cases and compares them with the branch's history in the
	// push output.
	Tests baleen.TestHistory
	// ArtifactsDir holds each build's artifacts at ArtifactsDir/<project>/<number>.
	ArtifactsDir string
	// Secret returns the server's value of a credential; false when the server has none.
	Secret func(name string) (string, bool)
	// CredentialScope, when set, says whether project may use the credentials names (those of the spec and
	// of its deploy units); an error fails the build's config stage with its words (access.Policy's
	// CheckCredentials).
	CredentialScope func(project string, names []string) error
	// Authz, when set, decides whether a build may use a project of this server as a dependency: the
	// build's identity needs the read role on it. With none, every project may be named.
	Authz baleen.Authorizer
	// Instance tells this server's builds apart from another's on the same Docker engine: it is part of
	// every BuildID. Lowercase letters and digits.
	Instance string
	// Teardowns, when set, keeps the builds whose teardown is not confirmed, to retry them after each
	// build, every SweepInterval and at start-up.
	Teardowns Teardowns
	// Engines, when set, is the pool of engines builds are placed on (each build on one engine, with its
	// dependency builds); Pipeline and Registry then serve only builds recorded without an engine, and
	// Concurrency is not used: the engines' slots cap the builds.
	Engines Engines
	// EngineRetries is how many times a build that failed because its engine stopped answering is run
	// again on another engine of Engines, the push waiting for it (retry_on_engine_failure); 0: never.
	EngineRetries int
	// Concurrency caps the builds that run at once across projects; runtime.NumCPU() when 0.
	Concurrency int
	Logger      *slog.Logger
	// LogLimit caps each build's log, in bytes, when Builds can (store.Store); the store's default when 0.
	LogLimit int64
}

// Scheduler runs the builds of a server: recorded in the store, one at a time per project (queue.Projects),
// up to Concurrency side by side (queue.Slots), their images pruned after each (retention.Pruner). A build
// runs to its end whether or not anybody still watches it; only Cancel and Shutdown stop it early. Its
// methods are safe for concurrent use.
type Scheduler struct {
	cfg      SchedulerConfig
	log      *slog.Logger
	events   EventBus
	projects *queue.Projects
	slots    *queue.Slots
	holds    *retention.Holds
	pruner   *retention.Pruner
	base     context.Context
	stop     context.CancelCauseFunc
	wg       sync.WaitGroup
	sweep    sweeper

	mu     sync.Mutex
	closed bool
	// running holds the builds queued or running in this process, by buildKey.
	running map[string]*active
}

// active is a build queued or running in this process.
type active struct {
	cancel context.CancelCauseFunc
	done   chan struct{} // closed when its record is final
}

// NewScheduler returns a Scheduler; call Recover once before the first Run.
func NewScheduler(cfg SchedulerConfig) *Scheduler {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = runtime.NumCPU()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Secret == nil {
		cfg.Secret = func(string) (string, bool) { return "", false }
	}
	if cfg.Events == nil {
		cfg.Events = events.New(0)
	}
	base, stop := context.WithCancelCause(context.Background())
	holds := retention.NewHolds()
	s := &Scheduler{
		cfg: cfg, log: cfg.Logger, events: cfg.Events, projects: queue.NewProjects(), slots: queue.NewSlots(cfg.Concurrency),
		holds: holds, base: base, stop: stop, running: map[string]*active{},
		pruner: &retention.Pruner{Builds: cfg.Builds, Releases: cfg.Releases, Holds: holds, Instance: cfg.Instance, KeepGreen: cfg.KeepGreen},
	}
	if cfg.Images != nil {
		s.pruner.Images = cfg.Images
	}
	return s
}

// Events is where the scheduler's build and release events can be subscribed to.
func (s *Scheduler) Events() baleen.EventSource { return s.events }

// Request asks for a build of one commit.
type Request struct {
	Project string
	Branch  string
	Commit  string
	// Pusher is who asked: a key fingerprint, or what started the build.
	Pusher string
	// Signer is the key that signed the push's certificate (git push --signed), kept in the build's
	// record; empty for an unsigned push.
	Signer string
	// Identity is who the build acts for: the user whose proven key pushed or asked for it. A dependency
	// whose src names a project of this server is built only when Identity may read that project
	// (SchedulerConfig.Authz), and a dependency build acts for the same identity. Zero for a build the
	// server starts itself (a mirror's sync, a forge webhook, a dependent's rebuild): it then acts for the
	// pusher of the project's last green build that a user pushed or rebuilt (LastPusher), and when there
	// is none it may name no project of the server.
	Identity baleen.Identity
	// Out receives the build's output live, relayed from the build's log events as every other reader gets
	// it, and all of it by the time Run returns; nil: nobody watches. Errors writing to it are ignored: the
	// build goes on when its watcher goes away.
	Out io.Writer
	// Chain lists the projects whose builds wait for this one (it is their dependency), for cycle
	// detection; empty for a push.
	Chain []string
	// NoDeploy builds and tests without the deploy stage (the push option `-o deploy=false`).
	NoDeploy bool
	// Old, when set, is the commit the push expects Branch to hold until its build is released: the
	// compare-and-swap old value of the ref update (git's zero id when the push creates the branch). Just
	// before the release stages the build checks it; a branch that moved meanwhile (another writer of the
	// ref while this build waited or ran) gets no tag, push or deploy, and the build ends cancelled, saying
	// why. Empty: no check (rebuilds, dependency builds).
	Old string
	// HoldImages keeps the build's images from every pruning, and puts off the pruning that follows the
	// build, until Settle is called for it: a push moves its branch first, so that a crash between the
	// verdict and the ref move never loses the images the branch needs.
	HoldImages bool
	// Queued, when set, is called with the build's record once it is recorded queued, before the build
	// waits for its turn: from then on the build is the record's to finish (a server stopped meanwhile marks
	// it interrupted at its next start).
	Queued func(baleen.Build)
}

// Run records a build of req's commit, waits for its turn, runs it and returns its final record. It returns
// ErrNothingToBuild, without recording a build, when the commit has no baleen.yml. ctx bounds only the wait
// for the record to be created: once queued, the build is stopped by nothing but Cancel and Shutdown (and,
// for a dependency build, by the end of ctx, which its dependent's cancellation ends).
func (s *Scheduler) Run(ctx context.Context, req Request) (baleen.Build, error) {
	if !s.enter(len(req.Chain) > 0) {
		return baleen.Build{}, fmt.Errorf("server is shutting down: %w", baleen.ErrUnavailable)
	}
	defer s.wg.Done()
	tree, data, err := s.specFile(ctx, req.Project, req.Commit)
	if err != nil {
		return baleen.Build{}, err
	}
	b, err := s.cfg.Builds.CreateBuild(ctx, baleen.Build{
		Project: req.Project, Commit: req.Commit, Branch: req.Branch, Pusher: req.Pusher, Signer: req.Signer, Created: time.Now().UTC(),
	})
	if err != nil {
		return baleen.Build{}, fmt.Errorf("record build: %w", err)
	}
	if req.Out != nil {
		req.Out = syncio.NewWriter(req.Out) // the dependency builds' relays write to it too
	}
	stopRelay := s.relay(b, req.Out)
	s.publishBuild(baleen.EventBuildQueued, b, 0)
	if req.Queued != nil {
		req.Queued(b)
	}
	bctx, cancel := context.WithCancelCause(s.base)
	defer cancel(nil)
	if p, ok := placedOn(ctx); ok {
		// A dependency build runs on its dependent's engine, in its slot.
		bctx = context.WithValue(bctx, placementKey{}, p)
	}
	if len(req.Chain) > 0 {
		// A dependency build serves its dependent alone: cancelling the dependent cancels it.
		stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
		defer stop()
	}
	untrack := s.track(b, cancel)
	defer untrack()
	// From here on, work and records use contexts of their own: the pusher may go away.
	rctx := context.WithoutCancel(ctx)
	if req.HoldImages {
		s.holds.Hold(b.ID(s.cfg.Instance))
	}
	res := s.execute(bctx, rctx, b, tree, data, req)
	// The ref move is recorded before the verdict, so that recovery completes it if the server stops between.
	s.recordRefMove(rctx, b, req, res)
	// The record is final before the watcher has read everything: a slow watcher delays only this return.
	nb, err := s.finish(rctx, b, res, !req.HoldImages)
	stopRelay()
	if err != nil && req.HoldImages {
		s.holds.Release(b.ID(s.cfg.Instance)) // the caller has no build to settle
	}
	return nb, err
}

// specFile reads the tree of commit and its baleen.yml; ErrNothingToBuild when it has none.
func (s *Scheduler) specFile(ctx context.Context, project, commit string) (fs.FS, []byte, error) {
	tree, err := s.cfg.Repos.Tree(ctx, project, commit)
	if err != nil {
		return nil, nil, fmt.Errorf("read commit %s: %w", short(commit), err)
	}
	data, err := fs.ReadFile(tree, "baleen.yml")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, ErrNothingToBuild
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read baleen.yml: %w", err)
	}
	return tree, data, nil
}

// execute opens the build's log, waits for the project's turn and runs the build; its output is complete
// in the log when it returns.
func (s *Scheduler) execute(ctx, rctx context.Context, b baleen.Build, tree fs.FS, data []byte, req Request) baleen.Result {
	log := s.log.With("project", b.Project, "build", b.Number, "commit", b.Commit)
	if err := s.cfg.Repos.SetRef(rctx, b.Project, "refs/baleen/builds/"+strconv.Itoa(b.Number), b.Commit); err != nil {
		log.Error("set build ref", "err", err)
	}
	logw, err := s.logWriter(rctx, b)
	if err != nil {
		return baleen.Result{Status: baleen.StatusFailed, Message: err.Error()}
	}
	out := newBuildOutput(logw, s.events, b)
	defer func() {
		if err := out.Close(); err != nil {
			log.Error("close build log", "err", err)
		}
	}()
	fmt.Fprintf(out, "build #%d of %s: %s at %s\n", b.Number, b.Project, refName(b.Branch), short(b.Commit))
	release, err := s.projects.Acquire(ctx, b.Project, b.Number, req.Chain, func(holder int) {
		fmt.Fprintf(out, "waiting for build #%d of %s to finish\n", holder, b.Project)
	})
	if errors.Is(err, queue.ErrWaitCycle) {
		fmt.Fprintf(out, "FAILED: %v\n", err)
		return baleen.Result{Status: baleen.StatusFailed, FailedStage: baleen.StageDependencies, Message: err.Error()}
	}
	if err != nil {
		return stoppedResult(ctx)
	}
	defer release()
	now, running := time.Now().UTC(), baleen.StatusRunning
	if nb, err := s.cfg.Builds.UpdateBuild(rctx, b.Project, b.Number, baleen.BuildPatch{Status: &running, Started: &now}); err != nil {
		log.Error("record build start", "err", err)
	} else {
		b = nb
	}
	s.publishBuild(baleen.EventBuildStarted, b, 0)
	log.Info("build started", "key", b.Pusher)
	return s.run(ctx, b, tree, data, out, req)
}

// track registers b for Cancel and Follow until the returned function is called, once its record is final.
func (s *Scheduler) track(b baleen.Build, cancel context.CancelCauseFunc) func() {
	key := buildKey(b.Project, b.Number)
	act := &active{cancel: cancel, done: make(chan struct{})}
	s.mu.Lock()
	s.running[key] = act
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.running, key)
		s.mu.Unlock()
		close(act.done)
	}
}

// ended returns a channel closed when the build's record is final; nil when it is not running here.
func (s *Scheduler) ended(project string, number int) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if act := s.running[buildKey(project, number)]; act != nil {
		return act.done
	}
	return nil
}

// stoppedResult is the result of a build stopped before its end: cancelled by a person, or interrupted by
// shutdown.
func stoppedResult(ctx context.Context) baleen.Result {
	st, msg := Stopped(ctx)
	return baleen.Result{Status: st, Message: msg}
}

// finish records b's result, publishes build_finished and, when prune says so, prunes the project's images.
func (s *Scheduler) finish(ctx context.Context, b baleen.Build, res baleen.Result, prune bool) (baleen.Build, error) {
	log := s.log.With("project", b.Project, "build", b.Number, "commit", b.Commit)
	now := time.Now().UTC()
	p := baleen.BuildPatch{Status: &res.Status, Finished: &now, Message: &res.Message, FailedStage: &res.FailedStage,
		Report: res.Report, Artifacts: res.Artifacts, Images: res.Images, Pushed: res.Pushed}
	if len(res.Stages) > 0 {
		p.Stages = res.Stages
	}
	nb, err := s.cfg.Builds.UpdateBuild(ctx, b.Project, b.Number, p)
	if err != nil {
		log.Error("record build result", "err", err)
		return b, fmt.Errorf("record build #%d: %w", b.Number, err)
	}
	s.publishBuild(baleen.EventBuildFinished, nb, res.Duration)
	log.Info("build finished", "status", string(res.Status), "stage", string(res.FailedStage))
	if prune {
		s.prune(ctx, b.Project)
	}
	s.retryLater()
	return nb, nil
}

func (s *Scheduler) publishBuild(kind baleen.EventKind, b baleen.Build, d time.Duration) {
	rec := b
	e := baleen.Event{Kind: kind, Project: b.Project, Build: b.Number, Record: &rec, Duration: d}
	if kind == baleen.EventBuildFinished {
		e.Status, e.Text = b.Status, b.Message
	}
	s.events.Publish(e)
}

// Cancel stops a queued or running build. ErrNotFound when the build is not queued or running here.
func (s *Scheduler) Cancel(project string, number int) error {
	s.mu.Lock()
	act := s.running[buildKey(project, number)]
	s.mu.Unlock()
	if act == nil {
		return fmt.Errorf("build #%d of %s is not running: %w", number, project, baleen.ErrNotFound)
	}
	act.cancel(errCancelled)
	return nil
}

// Recover marks the builds that were queued or running when the server last stopped as interrupted, starts
// the retries of the teardowns left pending (what they and earlier builds left in the engines; in the
// background, then every SweepInterval), then marks the releases that were rolling out. Call it once at
// start, before the first Run.
func (s *Scheduler) Recover(ctx context.Context) error {
	builds, err := s.cfg.Builds.Builds(ctx, baleen.BuildFilter{Statuses: []baleen.Status{baleen.StatusQueued, baleen.StatusRunning}})
	if err != nil {
		return fmt.Errorf("list unfinished builds: %w", err)
	}
	pending := map[baleen.BuildID]string{}
	if s.cfg.Teardowns != nil {
		if pending, err = s.cfg.Teardowns.PendingTeardowns(ctx); err != nil {
			return fmt.Errorf("list pending teardowns: %w", err)
		}
	}
	var errs []error
	for _, b := range builds {
		st, msg, now := baleen.StatusInterrupted, "interrupted: the server stopped during the build", time.Now().UTC()
		if _, err := s.cfg.Builds.UpdateBuild(ctx, b.Project, b.Number, baleen.BuildPatch{Status: &st, Message: &msg, Finished: &now}); err != nil {
			errs = append(errs, err)
			continue
		}
		if s.cfg.Teardowns != nil {
			// Its engine was recorded with its pending teardown when it started; this is for a build
			// interrupted before that.
			if _, ok := pending[b.ID(s.cfg.Instance)]; !ok {
				if err := s.cfg.Teardowns.AddTeardown(ctx, b.ID(s.cfg.Instance), ""); err != nil {
					errs = append(errs, err)
				}
			}
		} else if err := s.cfg.Pipeline.Teardown(ctx, b.ID(s.cfg.Instance)); err != nil {
			errs = append(errs, fmt.Errorf("clean up build #%d of %s: %w", b.Number, b.Project, err))
		}
		s.log.Warn("build interrupted by a restart", "project", b.Project, "build", b.Number)
	}
	// An engine that does not answer holds the server's start for RecoverWait at most; the retry goes on
	// in the background.
	s.retryWait(ctx, RecoverWait)
	go s.sweepEvery(SweepInterval)
	if err := s.recoverReleases(ctx); err != nil {
		errs = append(errs, fmt.Errorf("mark interrupted releases: %w", err))
	}
	return errors.Join(errs...)
}

// Shutdown stops accepting builds and waits for the running ones to end. When ctx ends first, it cancels
// them, waits for their cleanup and records them as interrupted.
func (s *Scheduler) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); s.sweep.wg.Wait(); close(done) }()
	select {
	case <-done:
		s.stop(errShutdown)
		return nil
	case <-ctx.Done():
	}
	s.stop(errShutdown)
	<-done
	return fmt.Errorf("builds still running after the grace period were interrupted: %w", ctx.Err())
}

// enter counts a build or a deploy in, unless the server is shutting down. A dependency of a build already
// running may start while the server shuts down, since its dependent holds the server open until it ends.
func (s *Scheduler) enter(dependency bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed && !dependency {
		return false
	}
	s.wg.Add(1)
	return true
}

func buildKey(project string, number int) string { return project + "#" + strconv.Itoa(number) }

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

func refName(branch string) string {
	if branch == "" {
		return "(no branch)"
	}
	return branch
}
