package pipeline

import (
	"context"
	"fmt"

	"github.com/baleen-ci/baleen"
)

// depState is one dependency's start as the others see it: err is set once, before done closes.
type depState struct {
	done chan struct{}
	err  error
}

// depGate orders the start of a build's dependencies by their after lists (the spec guarantees they name
// siblings and form no cycle): each waits until those it runs after are ready. Each dependency's
// goroutine calls wait, then finish, once.
type depGate map[string]*depState

func newDepGate(deps []baleen.Dependency) depGate {
	g := depGate{}
	for _, d := range deps {
		g[d.Name] = &depState{done: make(chan struct{})}
	}
	return g
}

// finish records how name's start ended and lets those that run after it go on.
func (g depGate) finish(name string, err error) {
	s := g[name]
	s.err = err
	close(s.done)
}

// wait returns once every dependency d runs after is ready; an error names the first that failed, or
// says the build was cancelled.
func (g depGate) wait(ctx context.Context, d baleen.Dependency) error {
	for _, name := range d.After {
		s, ok := g[name]
		if !ok {
			return fmt.Errorf("dependency %s: it runs after %s, which this build does not have", d.Name, name)
		}
		select {
		case <-s.done:
			if s.err != nil {
				return fmt.Errorf("dependency %s: not started: %s, which it runs after, failed", d.Name, name)
			}
		case <-ctx.Done():
			return fmt.Errorf("dependency %s: %w", d.Name, context.Cause(ctx))
		}
	}
	return nil
}
