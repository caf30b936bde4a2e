package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/spec"
)

// ErrNothingToBuild: the commit has no baleen.yml at its root.
var ErrNothingToBuild = errors.New("nothing to build: no baleen.yml")

// errShutdown is the cause of builds the server stopped; they end interrupted, not cancelled.
var errShutdown = errors.New("server shutting down")

// errCancelled is the cause of builds a person cancelled.
var errCancelled = errors.New("cancelled")

// SchedulerConfig wires a Scheduler.
type SchedulerConfig struct {
	Pipeline *Pipeline
	Projects baleen.ProjectStore
	Builds   baleen.BuildStore
	Repos    DependencyRepos
	// Images, when set, lets dependency builds be reused while their images exist.
	Images baleen.Images
	// Registry, when set, lets builds push their images as their baleen.yml says.
	Registry *Registry
	// KeepGreen is how many of a project's latest green builds keep their images when the others' are
	// pruned after each build; DefaultKeepGreen when 0, and no pruning when negative.
	KeepGreen int
	// Deployer and Releases, when set, run the deploy stage of green builds of the deploy branch and keep
	// the releases; the images of released builds are never pruned.
	Deployer baleen.Deployer
	Releases baleen.ReleaseStore
	// ArtifactsDir holds each build's artifacts at ArtifactsDir/<project>/<number>.
	ArtifactsDir string
	// Secret returns the server's value of a credential; false when the server has none.
	Secret func(name string) (string, bool)
	// CredentialScope, when set, says whether project may use the credentials names (those of the spec and
	// of its deploy units); an error fails the build's config stage with its words (access.Policy's
	// CheckCredentials).
	CredentialScope func(project string, names []string) error
	// Instance tells this server's builds apart from another's on the same Docker engine: it is part of
	// every BuildID. Lowercase letters and digits.
	Instance string
	// Concurrency caps the builds that run at once across projects; runtime.NumCPU() when 0.
	Concurrency int
	Logger      *slog.Logger
}

// Scheduler runs the builds of a server: recorded in the store, one at a time per project, up to
// Concurrency side by side. A build runs to its end whether or not anybody still watches it; only Cancel and
// Shutdown stop it early. Its methods are safe for concurrent use.
type Scheduler struct {
	cfg    SchedulerConfig
	log    *slog.Logger
	slots  chan struct{}
	base   context.Context
	stop   context.CancelCauseFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
	// queues holds, per project, a channel of capacity 1 that the running build holds, and its number.
	queues  map[string]*queue
	running map[string]*active
	// waits says, by project, which project's queue the build holding its queue waits for while it builds
	// a dependency: the wait-for graph that tells a cycle across concurrent pushes from a queue.
	waits map[string]string
	// inUse counts, by build id, the dependents running with a dependency build's images: prune spares them.
	inUse map[baleen.BuildID]int
}

type queue struct {
	slot   chan struct{}
	holder int
}

// active is a build that is queued or running in this process.
type active struct {
	cancel  context.CancelCauseFunc
	changed chan struct{} // closed and replaced whenever the build's log grows
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
	base, stop := context.WithCancelCause(context.Background())
	return &Scheduler{
		cfg: cfg, log: cfg.Logger, slots: make(chan struct{}, cfg.Concurrency), base: base, stop: stop,
		queues: map[string]*queue{}, running: map[string]*active{}, waits: map[string]string{}, inUse: map[baleen.BuildID]int{},
	}
}

// Request asks for a build of one commit.
type Request struct {
	Project string
	Branch  string
	Commit  string
	// Pusher is who asked: a key fingerprint, or what started the build.
	Pusher string
	// Out receives the build's output live; nil discards it. Errors writing to it are ignored: the build
	// goes on when its watcher goes away.
	Out io.Writer
	// Chain lists the projects whose builds wait for this one (it is their dependency), for cycle
	// detection; empty for a push.
	Chain []string
}

// Run records a build of req's commit, waits for its turn, runs it and returns its final record. It returns
// ErrNothingToBuild, without recording a build, when the commit has no baleen.yml. ctx bounds only the wait
// for the record to be created: once queued, the build is stopped by nothing but Cancel and Shutdown.
func (s *Scheduler) Run(ctx context.Context, req Request) (baleen.Build, error) {
	if len(req.Chain) > 0 {
		// A dependency of a build already running: it may start while the server shuts down, since its
		// dependent holds the server open until it ends.
		s.wg.Add(1)
	} else if !s.enter() {
		return baleen.Build{}, fmt.Errorf("server is shutting down: %w", baleen.ErrUnavailable)
	}
	defer s.wg.Done()
	tree, err := s.cfg.Repos.Tree(ctx, req.Project, req.Commit)
	if err != nil {
		return baleen.Build{}, fmt.Errorf("read commit %s: %w", short(req.Commit), err)
	}
	data, err := fs.ReadFile(tree, "baleen.yml")
	if errors.Is(err, fs.ErrNotExist) {
		return baleen.Build{}, ErrNothingToBuild
	}
	if err != nil {
		return baleen.Build{}, fmt.Errorf("read baleen.yml: %w", err)
	}
	b, err := s.cfg.Builds.CreateBuild(ctx, baleen.Build{
		Project: req.Project, Commit: req.Commit, Branch: req.Branch, Pusher: req.Pusher, Created: time.Now().UTC(),
	})
	if err != nil {
		return baleen.Build{}, fmt.Errorf("record build: %w", err)
	}
	log := s.log.With("project", b.Project, "build", b.Number, "commit", b.Commit)
	bctx, cancel := context.WithCancelCause(s.base)
	defer cancel(nil)
	if len(req.Chain) > 0 {
		// A dependency build serves its dependent alone: cancelling the dependent cancels it.
		stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
		defer stop()
	}
	key := buildKey(b.Project, b.Number)
	act := &active{cancel: cancel, changed: make(chan struct{})}
	s.mu.Lock()
	s.running[key] = act
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.running, key)
		close(act.changed)
		s.mu.Unlock()
	}()

	// From here on, work and records use contexts of their own: the pusher may go away.
	rctx := context.WithoutCancel(ctx)
	if err := s.cfg.Repos.SetRef(rctx, b.Project, "refs/baleen/builds/"+strconv.Itoa(b.Number), b.Commit); err != nil {
		log.Error("set build ref", "err", err)
	}
	logw, err := s.cfg.Builds.LogWriter(rctx, b.Project, b.Number)
	if err != nil {
		return s.finish(rctx, b, baleen.Result{Status: baleen.StatusFailed, Message: err.Error()}, log)
	}
	out := &buildOutput{client: req.Out, log: logw, s: s, act: act}
	defer logw.Close()

	fmt.Fprintf(out, "build #%d of %s: %s at %s\n", b.Number, b.Project, refName(b.Branch), short(b.Commit))
	release, err := s.acquireProject(bctx, b, req.Chain, out)
	if errors.Is(err, errWaitCycle) {
		res := baleen.Result{Status: baleen.StatusFailed, FailedStage: baleen.StageDependencies, Message: err.Error()}
		fmt.Fprintf(out, "FAILED: %v\n", err)
		return s.finish(rctx, b, res, log)
	}
	if err != nil {
		return s.finish(rctx, b, s.stopped(bctx), log)
	}
	defer release()
	now := time.Now().UTC()
	running := baleen.StatusRunning
	if nb, err := s.cfg.Builds.UpdateBuild(rctx, b.Project, b.Number, baleen.BuildPatch{Status: &running, Started: &now}); err != nil {
		log.Error("record build start", "err", err)
	} else {
		b = nb
	}
	log.Info("build started", "key", b.Pusher)
	res := s.run(bctx, b, tree, data, out, req.Chain)
	return s.finish(rctx, b, res, log)
}

// checkScope asks CredentialScope whether project may use every credential sp names.
func (s *Scheduler) checkScope(project string, sp *baleen.Spec) error {
	if s.cfg.CredentialScope == nil {
		return nil
	}
	names := slices.Clone(sp.Credentials)
	if sp.Deploy != nil {
		for _, u := range sp.Deploy.Units {
			names = append(names, u.Credentials...)
		}
	}
	if err := s.cfg.CredentialScope(project, names); err != nil {
		return fmt.Errorf("baleen.yml: %w", err)
	}
	return nil
}

// run reads the spec, builds the repository dependencies and runs the pipeline. chain is the projects
// whose builds wait for this one, for cycle detection.
func (s *Scheduler) run(ctx context.Context, b baleen.Build, tree fs.FS, data []byte, out io.Writer, chain []string) baleen.Result {
	configFailed := func(err error) baleen.Result {
		fmt.Fprintf(out, "==> %s\n%v\n", baleen.StageConfig, err)
		msg := "baleen.yml is not valid"
		fmt.Fprintf(out, "FAILED: %s: %s\n", baleen.StageConfig, msg)
		return baleen.Result{Status: baleen.StatusFailed, FailedStage: baleen.StageConfig, Message: msg,
			Stages: []baleen.StageResult{{Stage: baleen.StageConfig, Status: baleen.StatusFailed, Message: err.Error()}}}
	}
	parsed, err := spec.ParseFile("baleen.yml", data)
	if err != nil {
		return configFailed(err)
	}
	if err := parsed.CheckTree(tree); err != nil {
		return configFailed(err)
	}
	sp := parsed.Spec
	if err := s.checkScope(b.Project, sp); err != nil {
		return configFailed(err)
	}
	secrets := map[string]string{}
	for _, name := range sp.Credentials {
		v, ok := s.cfg.Secret(name)
		if !ok {
			return configFailed(fmt.Errorf("baleen.yml: credential %s is not configured on the server (credentials in its config file)", name))
		}
		secrets[name] = v
	}
	var stages []baleen.StageResult
	record := func(sr baleen.StageResult) {
		stages = append(stages, sr)
		if _, err := s.cfg.Builds.UpdateBuild(context.WithoutCancel(ctx), b.Project, b.Number, baleen.BuildPatch{Stages: stages}); err != nil {
			s.log.Error("record stage", "project", b.Project, "build", b.Number, "err", err)
		}
	}
	var deps map[string]string
	if HasSources(sp) {
		fmt.Fprintf(out, "==> %s\n", baleen.StageDependencies)
		start := time.Now()
		var records []baleen.DependencyBuild
		var holds []baleen.BuildID
		held := func(id baleen.BuildID) {
			s.mu.Lock()
			s.inUse[id]++
			s.mu.Unlock()
			holds = append(holds, id)
		}
		defer func() {
			s.mu.Lock()
			for _, id := range holds {
				if s.inUse[id]--; s.inUse[id] <= 0 {
					delete(s.inUse, id)
				}
			}
			s.mu.Unlock()
		}()
		deps, records, err = ResolveDependencies(ctx, sp, append(append([]string{}, chain...), b.Project), s.cfg.Repos,
			serverProjects{s}, s.buildDependency(b, held), out)
		if _, perr := s.cfg.Builds.UpdateBuild(context.WithoutCancel(ctx), b.Project, b.Number, baleen.BuildPatch{Dependencies: records}); perr != nil {
			s.log.Error("record dependencies", "project", b.Project, "build", b.Number, "err", perr)
		}
		sr := baleen.StageResult{Stage: baleen.StageDependencies, Status: baleen.StatusPassed, Duration: time.Since(start)}
		if err != nil {
			if ctx.Err() != nil {
				res := s.stopped(ctx)
				res.Stages = stages
				return res
			}
			sr.Status, sr.Message = baleen.StatusFailed, err.Error()
			record(sr)
			fmt.Fprintf(out, "--> %s failed in %s: %v\nFAILED: %s\n", sr.Stage, round(sr.Duration), err, sr.Stage)
			return baleen.Result{Status: baleen.StatusFailed, FailedStage: sr.Stage, Message: err.Error(), Stages: stages}
		}
		record(sr)
		fmt.Fprintf(out, "--> %s passed in %s\n", sr.Stage, round(sr.Duration))
	}
	releaseSlot, err := s.acquireSlot(ctx, out)
	if err != nil {
		res := s.stopped(ctx)
		res.Stages = stages
		return res
	}
	defer releaseSlot()
	res, err := s.cfg.Pipeline.Run(ctx, Run{
		ID: b.ID(s.cfg.Instance), Spec: sp, Source: tree, Secrets: secrets, Out: out, Dependencies: deps,
		Project: b.Project, Commit: b.Commit, Branch: b.Branch, Number: b.Number, Registry: s.cfg.Registry,
		ArtifactsDir: filepath.Join(s.cfg.ArtifactsDir, b.Project, strconv.Itoa(b.Number)),
		StageDone:    record,
	})
	if err != nil && res.Message == "" {
		res.Message = err.Error()
	}
	if res.Status == baleen.StatusPassed && sp.Deploy != nil {
		want := sp.Deploy.Branch
		if want == "" {
			want = DefaultDeployBranch
		}
		if b.Branch != want {
			fmt.Fprintf(out, "==> %s\nskipped: only green builds of %s deploy\n", baleen.StageDeploy, want)
		} else {
			_, sr := s.deploy(ctx, b, sp, res.Images, res.Pushed, "push by "+b.Pusher, out)
			record(sr)
			if sr.Status != baleen.StatusPassed {
				res.Status, res.FailedStage, res.Message = baleen.StatusFailed, baleen.StageDeploy, sr.Message
				if ctx.Err() != nil {
					res.Status = s.stopped(ctx).Status
				}
				fmt.Fprintf(out, "FAILED: %s: %s\n", sr.Stage, sr.Message)
			} else {
				fmt.Fprintln(out, "DEPLOYED")
			}
		}
	}
	res.Stages = stages
	if res.Status == baleen.StatusCancelled {
		res.Status = s.stopped(ctx).Status
	}
	return res
}

// serverProjects names dependencies' projects on this server.
type serverProjects struct{ s *Scheduler }

// Local says whether a dependency's src is the bare name of a project on this server.
func (p serverProjects) Local(ctx context.Context, src string) bool {
	if baleen.ValidateProjectName(src) != nil {
		return false
	}
	_, err := p.s.cfg.Projects.Project(ctx, src)
	return err == nil
}

// Claim finds or makes the project that src is fetched into: name when it is free or already src's,
// else name with a digest of src.
func (p serverProjects) Claim(ctx context.Context, name, src string) (string, bool, error) {
	for _, candidate := range []string{name, DisambiguatedName(name, src)} {
		proj, err := p.s.cfg.Projects.Project(ctx, candidate)
		switch {
		case err == nil && proj.Src == baleen.RedactURL(src):
			return candidate, false, nil
		case err == nil:
			continue // taken by a pushed project or another source
		case !errors.Is(err, baleen.ErrNotFound):
			return "", false, err
		}
		err = p.s.cfg.Projects.CreateProject(ctx, baleen.Project{Name: candidate, Src: baleen.RedactURL(src), Created: time.Now().UTC()})
		if err == nil {
			return candidate, true, nil
		}
		if !errors.Is(err, baleen.ErrExists) {
			return "", false, err
		}
		// Made meanwhile by a build of another dependent: it is ours if it has our source.
		if proj, gerr := p.s.cfg.Projects.Project(ctx, candidate); gerr == nil && proj.Src == baleen.RedactURL(src) {
			return candidate, false, nil
		}
	}
	return "", false, fmt.Errorf("no project name free for %s: %w", baleen.RedactURL(src), baleen.ErrConflict)
}

// buildDependency builds a dependency of b as a build of its own project, or reuses a green build of the
// same commit whose images the engine still has. held marks the dependency build's images as in use until
// b ends.
func (s *Scheduler) buildDependency(b baleen.Build, held func(baleen.BuildID)) BuildDependency {
	return func(ctx context.Context, t DependencyTarget, out io.Writer) (DependencyResult, error) {
		if prev, ok := s.reusable(ctx, t.Project, t.Commit, held); ok {
			fmt.Fprintf(out, "%s: reusing build #%d of %s at %s (green, images present)\n", t.Name, prev.Number, t.Project, short(t.Commit))
			return DependencyResult{Build: prev.Number, Reused: true, Images: prev.Images}, nil
		}
		fmt.Fprintf(out, "--- %s: building %s %s at %s\n", t.Name, t.Project, t.Branch, short(t.Commit))
		db, err := s.Run(ctx, Request{
			Project: t.Project, Branch: t.Branch, Commit: t.Commit, Chain: t.Chain[:len(t.Chain)-1],
			Pusher: fmt.Sprintf("dependency of %s#%d", b.Project, b.Number),
			Out:    PrefixWriter(out, t.Project+" | "),
		})
		if err != nil {
			return DependencyResult{}, err
		}
		if db.Status == baleen.StatusPassed {
			held(db.ID(s.cfg.Instance))
		}
		if db.Status != baleen.StatusPassed {
			what := string(db.Status)
			if db.FailedStage != "" {
				what += ": " + string(db.FailedStage)
			}
			return DependencyResult{}, fmt.Errorf("build #%d of %s %s (ssh HOST logs %s %d)", db.Number, t.Project, what, t.Project, db.Number)
		}
		return DependencyResult{Build: db.Number, Images: db.Images}, nil
	}
}

// reusable finds a green build of project at commit whose images are all still in the engine, and holds
// them for the dependent (before it checks them, so that no prune can take them in between).
func (s *Scheduler) reusable(ctx context.Context, project, commit string, held func(baleen.BuildID)) (baleen.Build, bool) {
	if s.cfg.Images == nil {
		return baleen.Build{}, false
	}
	builds, err := s.cfg.Builds.Builds(ctx, baleen.BuildFilter{Project: project, Statuses: []baleen.Status{baleen.StatusPassed}})
	if err != nil {
		return baleen.Build{}, false
	}
	for _, prev := range builds {
		if prev.Commit != commit || len(prev.Images) == 0 {
			continue
		}
		held(prev.ID(s.cfg.Instance))
		all := true
		for _, ref := range prev.Images {
			if ok, err := s.cfg.Images.ImageExists(ctx, ref); err != nil || !ok {
				all = false
				break
			}
		}
		if all {
			return prev, true
		}
	}
	return baleen.Build{}, false
}

// stopped is the result of a build stopped before its end: cancelled by a person, or interrupted by shutdown.
func (s *Scheduler) stopped(ctx context.Context) baleen.Result {
	if errors.Is(context.Cause(ctx), errShutdown) {
		return baleen.Result{Status: baleen.StatusInterrupted, Message: "interrupted: the server shut down"}
	}
	return baleen.Result{Status: baleen.StatusCancelled, Message: "cancelled"}
}

func (s *Scheduler) finish(ctx context.Context, b baleen.Build, res baleen.Result, log *slog.Logger) (baleen.Build, error) {
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
	log.Info("build finished", "status", string(res.Status), "stage", string(res.FailedStage))
	if err := s.prune(ctx, b.Project); err != nil {
		log.Warn("prune images", "err", err)
	}
	return nb, nil
}

// DefaultKeepGreen is how many green builds of a project keep their images by default.
const DefaultKeepGreen = 5

// prune removes the images of project's builds that are neither among its KeepGreen latest green builds,
// nor in use, nor running: the images every build tags under its own id, and their other tags.
func (s *Scheduler) prune(ctx context.Context, project string) error {
	keepN := s.cfg.KeepGreen
	if keepN == 0 {
		keepN = DefaultKeepGreen
	}
	if s.cfg.Images == nil || keepN < 0 {
		return nil
	}
	builds, err := s.cfg.Builds.Builds(ctx, baleen.BuildFilter{Project: project})
	if err != nil {
		return err
	}
	keep := map[baleen.BuildID]bool{}
	green := 0
	for _, b := range builds {
		switch {
		case !b.Status.Final():
			keep[b.ID(s.cfg.Instance)] = true
		case b.Status == baleen.StatusPassed && green < keepN:
			keep[b.ID(s.cfg.Instance)] = true
			green++
		}
	}
	released, err := s.releasedBuilds(ctx, project)
	if err != nil {
		return fmt.Errorf("list releases, pruning nothing: %w", err)
	}
	for _, n := range released {
		keep[(&baleen.Build{Project: project, Number: n}).ID(s.cfg.Instance)] = true
	}
	s.mu.Lock()
	for id := range s.inUse {
		keep[id] = true
	}
	s.mu.Unlock()
	imgs, err := s.cfg.Images.ListImages(ctx, baleen.LabelBuild)
	if err != nil {
		return err
	}
	var errs []error
	for _, img := range imgs {
		id := baleen.BuildID(img.Labels[baleen.LabelBuild])
		if keep[id] || !s.ownBuild(id, project) {
			continue
		}
		for _, tag := range img.Tags {
			if baleen.IsLatestTag(tag) {
				continue // the latest tag is the newest green build's, and moves only with one
			}
			if err := s.cfg.Images.RemoveImage(ctx, tag); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", tag, err))
			}
		}
	}
	return errors.Join(errs...)
}

// ownBuild reports whether id names a build of project on this server: "<project>-<number>-<instance>".
func (s *Scheduler) ownBuild(id baleen.BuildID, project string) bool {
	rest, ok := strings.CutSuffix(string(id), "-"+s.cfg.Instance)
	if !ok || s.cfg.Instance == "" {
		return false
	}
	i := strings.LastIndexByte(rest, '-')
	if i < 0 || rest[:i] != project {
		return false
	}
	_, err := strconv.Atoi(rest[i+1:])
	return err == nil
}

// errWaitCycle: a dependency build would wait for a queue held by a build that waits, in turn, for the
// dependent: two pushes whose projects depend on each other.
var errWaitCycle = errors.New("dependency cycle across builds")

// acquireProject waits for the project's queue: one build of a project runs at a time. chain is the
// dependents waiting for this build; when one of them holds, or waits behind, a queue that this build would
// have to wait for, waiting would never end, and it returns errWaitCycle instead.
func (s *Scheduler) acquireProject(ctx context.Context, b baleen.Build, chain []string, out io.Writer) (func(), error) {
	s.mu.Lock()
	q := s.queues[b.Project]
	if q == nil {
		q = &queue{slot: make(chan struct{}, 1)}
		s.queues[b.Project] = q
	}
	holder := q.holder
	s.mu.Unlock()
	select {
	case q.slot <- struct{}{}:
	default:
		dependent := ""
		if len(chain) > 0 {
			dependent = chain[len(chain)-1]
			s.mu.Lock()
			path := []string{dependent, b.Project}
			for cur, seen := b.Project, map[string]bool{}; !seen[cur]; {
				seen[cur] = true
				next, ok := s.waits[cur]
				if !ok {
					break
				}
				path = append(path, next)
				if slices.Contains(chain, next) {
					s.mu.Unlock()
					return nil, fmt.Errorf("%w: %s", errWaitCycle, strings.Join(path, " waits for "))
				}
				cur = next
			}
			s.waits[dependent] = b.Project
			s.mu.Unlock()
			defer func() {
				s.mu.Lock()
				delete(s.waits, dependent)
				s.mu.Unlock()
			}()
		}
		fmt.Fprintf(out, "waiting for build #%d of %s to finish\n", holder, b.Project)
		select {
		case q.slot <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	s.mu.Lock()
	q.holder = b.Number
	s.mu.Unlock()
	return func() { <-q.slot }, nil
}

// acquireSlot waits for one of the Concurrency build slots. A build takes its slot only after its
// dependencies are built, so that dependencies, which need slots of their own, never wait on it.
func (s *Scheduler) acquireSlot(ctx context.Context, out io.Writer) (func(), error) {
	select {
	case s.slots <- struct{}{}:
	default:
		fmt.Fprintf(out, "waiting for a free build slot (%d builds run at once)\n", cap(s.slots))
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return func() { <-s.slots }, nil
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

// Follow writes a build's log to w from the start and, while the build runs, what it writes next, until the
// build ends or ctx does. It returns the build's final record.
func (s *Scheduler) Follow(ctx context.Context, project string, number int, w io.Writer) (baleen.Build, error) {
	var off int64
	for {
		s.mu.Lock()
		var changed <-chan struct{}
		if act := s.running[buildKey(project, number)]; act != nil {
			changed = act.changed
		}
		s.mu.Unlock()
		b, err := s.cfg.Builds.Build(ctx, project, number)
		if err != nil {
			return b, err
		}
		n, err := s.copyLog(ctx, project, number, off, w)
		off += n
		if err != nil || b.Status.Final() {
			return b, err
		}
		if changed == nil {
			// Recorded as unfinished but not running here: it was interrupted and Recover has not marked it
			// yet. Nothing more will be written.
			return b, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return b, ctx.Err()
		}
	}
}

func (s *Scheduler) copyLog(ctx context.Context, project string, number int, off int64, w io.Writer) (int64, error) {
	rc, err := s.cfg.Builds.Log(ctx, project, number, off)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return io.Copy(w, rc)
}

// Recover marks the builds that were queued or running when the server last stopped as interrupted and
// removes what they left in Docker. Call it once at start, before the first Run.
func (s *Scheduler) Recover(ctx context.Context) error {
	builds, err := s.cfg.Builds.Builds(ctx, baleen.BuildFilter{Statuses: []baleen.Status{baleen.StatusQueued, baleen.StatusRunning}})
	if err != nil {
		return fmt.Errorf("list unfinished builds: %w", err)
	}
	var errs []error
	for _, b := range builds {
		st, msg, now := baleen.StatusInterrupted, "interrupted: the server stopped during the build", time.Now().UTC()
		if _, err := s.cfg.Builds.UpdateBuild(ctx, b.Project, b.Number, baleen.BuildPatch{Status: &st, Message: &msg, Finished: &now}); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := s.cfg.Pipeline.engine.Teardown(ctx, b.ID(s.cfg.Instance)); err != nil {
			errs = append(errs, fmt.Errorf("clean up build #%d of %s: %w", b.Number, b.Project, err))
		}
		s.log.Warn("build interrupted by a restart", "project", b.Project, "build", b.Number)
	}
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
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.stop(errShutdown)
	<-done
	return fmt.Errorf("builds still running after the grace period were interrupted: %w", ctx.Err())
}

func (s *Scheduler) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// buildOutput feeds a build's output to the store and to the watcher, and wakes the followers.
type buildOutput struct {
	mu     sync.Mutex
	client io.Writer
	log    io.Writer
	s      *Scheduler
	act    *active
}

func (o *buildOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.client != nil {
		if _, err := o.client.Write(p); err != nil {
			o.client = nil
		}
	}
	_, err := o.log.Write(p)
	o.s.mu.Lock()
	close(o.act.changed)
	o.act.changed = make(chan struct{})
	o.s.mu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("write build log: %w", err)
	}
	return len(p), nil
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
