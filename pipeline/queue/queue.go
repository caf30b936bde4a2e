package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// ErrWaitCycle: a dependency build would wait for a queue held by a build that waits, in turn, for the
// dependent: two pushes whose projects depend on each other.
var ErrWaitCycle = errors.New("dependency cycle across builds")

// Projects gives each project's builds their turn, one at a time. Its methods are safe for concurrent use.
type Projects struct {
	mu sync.Mutex
	m  map[string]*turn
	// waits says, by project, which project's queue the build holding its queue waits for while it builds
	// a dependency: the wait-for graph.
	waits map[string]string
}

type turn struct {
	slot   chan struct{}
	holder int
}

// NewProjects returns an empty Projects.
func NewProjects() *Projects {
	return &Projects{m: map[string]*turn{}, waits: map[string]string{}}
}

// Acquire waits for project's turn for build number and returns the function that gives the turn back.
// chain lists the projects whose builds wait for this one (it builds their dependency), the nearest last;
// it is empty for a build of its own. When the turn is taken, waiting is called with the number of the
// build that holds it before Acquire waits. A wait that would close a cycle in the wait-for graph returns
// an error that wraps ErrWaitCycle and names the cycle; a ctx that ends first returns ctx's error.
func (p *Projects) Acquire(ctx context.Context, project string, number int, chain []string, waiting func(holder int)) (func(), error) {
	p.mu.Lock()
	t := p.m[project]
	if t == nil {
		t = &turn{slot: make(chan struct{}, 1)}
		p.m[project] = t
	}
	holder := t.holder
	p.mu.Unlock()
	select {
	case t.slot <- struct{}{}:
	default:
		if len(chain) > 0 {
			dependent := chain[len(chain)-1]
			if err := p.addWait(dependent, project, chain); err != nil {
				return nil, err
			}
			defer p.removeWait(dependent)
		}
		if waiting != nil {
			waiting(holder)
		}
		select {
		case t.slot <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	p.mu.Lock()
	t.holder = number
	p.mu.Unlock()
	return func() { <-t.slot }, nil
}

// addWait records that dependent's build waits for project's queue, unless following the waits from
// project leads back into chain.
func (p *Projects) addWait(dependent, project string, chain []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	path := []string{dependent, project}
	for cur, seen := project, map[string]bool{}; !seen[cur]; {
		seen[cur] = true
		next, ok := p.waits[cur]
		if !ok {
			break
		}
		path = append(path, next)
		if slices.Contains(chain, next) {
			return fmt.Errorf("%w: %s", ErrWaitCycle, strings.Join(path, " waits for "))
		}
		cur = next
	}
	p.waits[dependent] = project
	return nil
}

func (p *Projects) removeWait(dependent string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.waits, dependent)
}

// Slots caps the builds that use the engine at once. Its methods are safe for concurrent use.
type Slots struct{ ch chan struct{} }

// NewSlots returns n slots (at least one).
func NewSlots(n int) *Slots { return &Slots{ch: make(chan struct{}, max(n, 1))} }

// Cap is the number of slots.
func (s *Slots) Cap() int { return cap(s.ch) }

// Acquire waits for a free slot and returns the function that frees it. When none is free, waiting is
// called before Acquire waits. A ctx that ends first returns ctx's error.
func (s *Slots) Acquire(ctx context.Context, waiting func()) (func(), error) {
	select {
	case s.ch <- struct{}{}:
	default:
		if waiting != nil {
			waiting()
		}
		select {
		case s.ch <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return func() { <-s.ch }, nil
}
