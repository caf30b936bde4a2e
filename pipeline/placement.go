package pipeline

import (
	"context"
	"fmt"

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
	// build id. An error wrapping baleen.ErrInvalid says no engine has the labels; when ctx ends first, its
	// error comes back.
	Place(ctx context.Context, id baleen.BuildID, labels []string) (Placement, error)
	// Engine returns the engine called name, for the retried teardowns of its builds; false when the pool
	// has none of that name.
	Engine(name string) (PlacedEngine, bool)
	// CheckLabels says, in words for a baleen.yml's author, when no engine has every one of labels.
	CheckLabels(labels []string) error
}

// placementKey carries a build's placement to the dependency builds it starts, which run on its engine
// and in its slot.
type placementKey struct{}

func placedOn(ctx context.Context) (Placement, bool) {
	p, ok := ctx.Value(placementKey{}).(Placement)
	return p, ok
}

// place finds the engine of build b: its dependent's when b is a dependency build (ctx carries it), else a
// slot of the pool (or of the scheduler's own slots when it has no pool). The returned context carries the
// placement to b's dependency builds.
func (s *Scheduler) place(ctx context.Context, b baleen.Build, sp *baleen.Spec, stages *StageRunner) (context.Context, Placement, error) {
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
	p, err := s.cfg.Engines.Place(ctx, b.ID(s.cfg.Instance), sp.RunsOn)
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
