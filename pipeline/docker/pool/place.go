package pool

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline"
)

// Placer returns the pool as the scheduler's pipeline.Engines: builds placed on its engines' slots.
func (p *Pool) Placer() pipeline.Engines { return placer{p} }

type placer struct{ p *Pool }

var _ pipeline.Engines = placer{}

// Place takes a slot for build id on an engine with labels, not one of avoid (Acquire).
func (pl placer) Place(ctx context.Context, id baleen.BuildID, labels []string, avoid ...string) (pipeline.Placement, error) {
	l, err := pl.p.Acquire(ctx, id, labels, avoid...)
	if err != nil {
		return pipeline.Placement{}, err
	}
	return pipeline.Placement{Name: l.Name, Engine: l.Engine, Release: l.Release}, nil
}

// Engine returns the engine called name.
func (pl placer) Engine(name string) (pipeline.PlacedEngine, bool) {
	for _, m := range pl.p.members {
		if m.name == name {
			return m.engine, true
		}
	}
	return nil, false
}

// CheckLabels says when no engine of the pool, but those of avoid, has every one of labels, naming those
// each one has.
func (pl placer) CheckLabels(labels []string, avoid ...string) error {
	var offered []string
	for _, m := range pl.p.members {
		if slices.Contains(avoid, m.name) {
			continue
		}
		if hasAll(m.labels, labels) {
			return nil
		}
		offered = append(offered, fmt.Sprintf("%s %v", m.name, m.labels))
	}
	return fmt.Errorf("%v: no engine%s has all of these labels (engines: %s): %w",
		labels, besides(avoid), strings.Join(offered, ", "), baleen.ErrInvalid)
}
