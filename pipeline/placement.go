package pipeline

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/baleen-ci/baleen"
)

// PlacedEngine is what a build needs of the engine it is placed on: the Engine its pipeline runs on, and
// its images, for reusing dependency builds. pipeline/docker's Engine has it, and RegistryImages too, which
// registry pushes use: an engine without it pushes nothing.
type PlacedEngine interface {
	baleen.Engine
	baleen.ImageStore
}

// Placement is one build's slot on one engine of the pool.
type Placement struct {
	// Name is the engine's name in the server's config.
	Name string
	// Engine runs all of the build's work: its images, containers and network, and its dependency builds.
	Engine PlacedEngine
	// Release gives the slot back; it may be called more than once.
	Release func()
}

// Engines is the pool of engines the scheduler places builds on (pool.Pool, adapted by the server).
// Its methods are safe for concurrent use.
type Engines interface {
	// Place waits for a free slot on an engine that answers and has every one of labels, and takes it for
	// build id, never on one of the engines named in avoid (those a build failed on). An error wrapping
	// baleen.ErrInvalid says no engine has the labels; when ctx ends first, its error comes back.
	Place(ctx context.Context, id baleen.BuildID, labels []string, avoid ...string) (Placement, error)
	// Engine returns the engine called name, for the retried teardowns of its builds; false when the pool
	// has none of that name.
	Engine(name string) (PlacedEngine, bool)
	// CheckLabels says, in words for a baleen.yml's author, when no engine (but those of avoid) has every
	// one of labels.
	CheckLabels(labels []string, avoid ...string) error
}

// placementKey carries a build's placement to the dependency builds it starts, which run on its engine
// and in its slot.
type placementKey struct{}

func placedOn(ctx context.Context) (Placement, bool) {
	p, ok := ctx.Value(placementKey{}).(Placement)
	return p, ok
}

// place finds the engine of attempt a: its dependent's when a's build is a dependency build (ctx carries it),
// else a slot of the pool on an engine not in avoid (or of the scheduler's own slots when it has no pool).
// The returned context carries the placement to the build's dependency builds.
func (s *Scheduler) place(ctx context.Context, a attempt, avoid []string) (context.Context, Placement, error) {
	stages := a.stages
	if p, ok := placedOn(ctx); ok {
		return ctx, Placement{Name: p.Name, Engine: p.Engine, Release: func() {}}, nil
	}
	if s.cfg.Engines == nil {
		release, err := s.slots.Acquire(ctx, func() {
			fmt.Fprintf(stages.Out(), "waiting for a free build slot (%d builds run at once)\n", s.slots.Cap())
		})
		p := Placement{Release: release}
		return context.WithValue(ctx, placementKey{}, p), p, err
	}
	p, err := s.cfg.Engines.Place(ctx, a.id, a.sp.RunsOn, avoid...)
	if err != nil {
		return ctx, Placement{}, err
	}
	fmt.Fprintf(stages.Out(), "engine %s\n", p.Name)
	return context.WithValue(ctx, placementKey{}, p), p, nil
}

// pipelineOn is the pipeline that runs a build placed on p: the configured one without a pool.
func (s *Scheduler) pipelineOn(p Placement) (*Pipeline, *Registry) {
	if p.Engine == nil {
		return s.cfg.Pipeline, s.cfg.Registry
	}
	var reg *Registry
	if ri, ok := p.Engine.(RegistryImages); ok && s.cfg.Registry != nil {
		reg = &Registry{Images: ri, Auth: s.cfg.Registry.Auth}
	}
	return New(p.Engine, s.log), reg
}

// imagesOn is the image store of the engine ctx's build is placed on, or the configured one.
func (s *Scheduler) imagesOn(ctx context.Context) SchedulerImages {
	if p, ok := placedOn(ctx); ok && p.Engine != nil {
		return p.Engine
	}
	return s.cfg.Images
}

// attempt is what running a build on an engine needs; a retry on another engine runs it again.
type attempt struct {
	b       baleen.Build
	id      baleen.BuildID // b's id, or its retry's (retryID)
	sp      *baleen.Spec
	secrets map[string]string
	tree    fs.FS
	req     Request
	stages  *StageRunner
}

// attemptOn places a on an engine other than those of avoid, runs its dependency builds and its pipeline
// there, and returns its result and its placement, whose slot the caller releases (a placement whose
// Release does nothing when none was taken).
func (s *Scheduler) attemptOn(ctx context.Context, a attempt, avoid []string) (baleen.Result, Placement) {
	ctx, placed, err := s.place(ctx, a, avoid)
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(a.stages.Out(), "FAILED: no engine for this build: %v\n", err)
		return baleen.Result{Status: baleen.StatusFailed, FailedStage: baleen.StageConfig, Message: a.stages.Mask(err.Error()), Stages: a.stages.Stages()}, noPlacement
	}
	if err != nil {
		res := stoppedResult(ctx)
		res.Stages = a.stages.Stages()
		return res, noPlacement
	}
	deps, release, err := s.dependencies(ctx, a.b, a.sp, a.req, a.stages)
	defer release()
	if err != nil {
		return a.stages.Result(ctx, err), placed
	}
	s.beginTeardown(ctx, a.id, placed.Name)
	pl, registry := s.pipelineOn(placed)
	b := a.b
	res, err := pl.Run(ctx, Run{Cleanup: s.cleanupOn(placed.Name),
		ID: a.id, Spec: a.sp, Source: a.tree, Secrets: a.secrets, Out: a.stages.Out(), Dependencies: deps,
		Project: b.Project, Commit: b.Commit, Branch: b.Branch, Number: b.Number, Registry: registry, Stages: a.stages,
		ArtifactsDir:  filepath.Join(s.cfg.ArtifactsDir, b.Project, strconv.Itoa(b.Number)),
		Report:        s.testHistory(ctx, b),
		BeforeRelease: s.releaseGate(b, a.req.Old, a.stages),
	})
	if err != nil && res.Message == "" {
		res.Message = a.stages.Mask(err.Error())
	}
	return res, placed
}

// noPlacement is the placement of a build that got none.
var noPlacement = Placement{Release: func() {}}

// retryElsewhere runs a again on another engine of the pool when res says that placed's engine stopped
// answering and SchedulerConfig.EngineRetries allows it, releasing placed's slot first; it returns the
// result and placement of the last attempt. The push waits for the retry, whose output follows.
func (s *Scheduler) retryElsewhere(ctx context.Context, a attempt, placed Placement, res baleen.Result) (baleen.Result, Placement) {
	var avoid []string
	for n := 1; n <= s.cfg.EngineRetries && s.engineFailed(ctx, placed, res); n++ {
		avoid = append(avoid, placed.Name)
		if err := s.cfg.Engines.CheckLabels(a.sp.RunsOn, avoid...); err != nil {
			fmt.Fprintf(a.stages.Out(), "not retried: no other engine to retry on: %v\n", err)
			return res, placed
		}
		fmt.Fprintf(a.stages.Out(), "retrying on another engine (%d of %d): engine %s failed the build: %s\n",
			n, s.cfg.EngineRetries, placed.Name, res.Message)
		s.log.Warn("build retried on another engine", "project", a.b.Project, "build", a.b.Number, "host", placed.Name, "err", res.Message)
		placed.Release()
		a.id = retryID(a.b, n, s.cfg.Instance)
		a.stages.Retry()
		res, placed = s.attemptOn(ctx, a, avoid)
	}
	return res, placed
}

// engineFailed says whether res is the failure of a build whose engine, placed's, stopped answering (or
// could no longer be reached), rather than a failure of what was pushed or of another part. Dependency
// builds and builds without a pool are not retried: their dependent's retry, or nobody, would run them.
func (s *Scheduler) engineFailed(ctx context.Context, placed Placement, res baleen.Result) bool {
	if s.cfg.Engines == nil || placed.Name == "" || ctx.Err() != nil || !baleen.Infrastructure(res.Status, res.Message) {
		return false
	}
	if _, dependency := placedOn(ctx); dependency {
		return false
	}
	return strings.Contains(res.Message, "engine "+placed.Name+" stopped answering") ||
		strings.Contains(res.Message, "docker engine at ")
}

// retryID is the BuildID of retry n of build b: "<project>-<number>-r<n>-<instance>", which no build's own
// id can be (a build's number has no letter), so that each attempt's Docker objects and pending teardown
// are its own, on its own engine.
func retryID(b baleen.Build, n int, instance string) baleen.BuildID {
	return baleen.BuildID(fmt.Sprintf("%s-%d-r%d-%s", b.Project, b.Number, n, instance))
}
