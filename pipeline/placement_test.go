package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/pipeline/enginetest"
)

// fakePool is a pool of scripted engines with one slot each, for the scheduler's placement: a build goes to
// the first free engine, by name, that has its labels.
type fakePool struct {
	names  []string
	labels map[string][]string
	eng    map[string]*enginetest.Engine

	mu   sync.Mutex
	busy map[string]bool
	ran  map[string][]string // engine -> builds whose tests ran there
}

func newFakePool(labels map[string][]string) *fakePool {
	p := &fakePool{labels: labels, eng: map[string]*enginetest.Engine{}, busy: map[string]bool{}, ran: map[string][]string{}}
	for name := range labels {
		p.names = append(p.names, name)
		e := enginetest.New()
		e.Test = func(_ context.Context, id baleen.BuildID, _ baleen.ContainerSpec, out io.Writer) (int, error) {
			p.mu.Lock()
			p.ran[name] = append(p.ran[name], string(id))
			p.mu.Unlock()
			fmt.Fprintln(out, "tests ran")
			return 0, nil
		}
		p.eng[name] = e
	}
	slices.Sort(p.names)
	return p
}

func (p *fakePool) Place(ctx context.Context, _ baleen.BuildID, labels []string, avoid ...string) (pipeline.Placement, error) {
	if err := p.CheckLabels(labels, avoid...); err != nil {
		return pipeline.Placement{}, err
	}
	for {
		p.mu.Lock()
		for _, name := range p.names {
			if !p.busy[name] && hasLabels(p.labels[name], labels) && !slices.Contains(avoid, name) {
				p.busy[name] = true
				p.mu.Unlock()
				var once sync.Once
				return pipeline.Placement{Name: name, Engine: p.eng[name], Release: func() {
					once.Do(func() { p.mu.Lock(); p.busy[name] = false; p.mu.Unlock() })
				}}, nil
			}
		}
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return pipeline.Placement{}, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (p *fakePool) Engine(name string) (pipeline.PlacedEngine, bool) {
	e, ok := p.eng[name]
	return e, ok
}

func (p *fakePool) CheckLabels(labels []string, avoid ...string) error {
	for _, name := range p.names {
		if hasLabels(p.labels[name], labels) && !slices.Contains(avoid, name) {
			return nil
		}
	}
	return fmt.Errorf("no engine has the labels %v: %w", labels, baleen.ErrInvalid)
}

func (p *fakePool) ranOn(name string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.ran[name])
}

func hasLabels(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func poolServer(t *testing.T, p *fakePool) *server {
	return newServer(t, func(c *pipeline.SchedulerConfig) {
		c.Engines, c.Teardowns = p, c.Builds.(pipeline.Teardowns)
	})
}

// A build that asks for a label runs on the engine that has it, and so does the dependency build it
// starts, in the same slot; its teardown goes to that engine.
func TestPlacementByLabelsWithDependency(t *testing.T) {
	p := newFakePool(map[string][]string{"a": nil, "big": {"big"}})
	sv := poolServer(t, p)
	sv.commit("users", "u1", appSpec)
	sv.commit("api", "a1", "runs_on: [big]\n"+depSpec)
	var out syncBuffer
	b := sv.run("api", "a1", &out)
	if b.Status != baleen.StatusPassed {
		t.Fatalf("api: %s (%s); output:\n%s", b.Status, b.Message, out.String())
	}
	ran := p.ranOn("big")
	if len(ran) != 2 || !strings.HasPrefix(ran[0], "users-1-") || !strings.HasPrefix(ran[1], "api-1-") {
		t.Errorf("tests on engine big: %v, want users' dependency build then api's", ran)
	}
	if a := p.ranOn("a"); len(a) != 0 {
		t.Errorf("tests on engine a: %v, want none", a)
	}
	if !strings.Contains(out.String(), "engine big") {
		t.Errorf("output does not name the engine:\n%s", out.String())
	}
	waitFor(t, "api's teardown on engine big", func() bool {
		return slices.Contains(p.eng["big"].TornDown(), b.ID("abcd0123"))
	})
}

// Builds that ask for nothing spread over the engines with a free slot.
func TestPlacementSpreadsBuilds(t *testing.T) {
	p := newFakePool(map[string][]string{"a": nil, "b": nil})
	g := newGate()
	for _, e := range p.eng {
		e.Test = g.test
	}
	sv := poolServer(t, p)
	sv.commit("one", "c1", appSpec)
	sv.commit("two", "c2", appSpec)
	first, second := sv.start("one", "c1", nil), sv.start("two", "c2", nil)
	g.waitStarted(t)
	g.waitStarted(t) // both run at once: each engine has one slot
	close(g.open)
	for _, ch := range []<-chan baleen.Build{first, second} {
		if b := wait(t, ch); b.Status != baleen.StatusPassed {
			t.Errorf("%s: %s (%s)", b.Project, b.Status, b.Message)
		}
	}
	for name, e := range p.eng {
		if len(e.TornDown()) != 1 {
			t.Errorf("engine %s tore down %v, want one build", name, e.TornDown())
		}
	}
}

// runs_on naming labels no engine has fails the config stage, saying so.
func TestPlacementUnknownLabels(t *testing.T) {
	sv := poolServer(t, newFakePool(map[string][]string{"a": {"amd64"}}))
	sv.commit("app", "c1", "runs_on: [gpu]\n"+appSpec)
	b := sv.run("app", "c1", nil)
	if b.Status != baleen.StatusFailed || b.FailedStage != baleen.StageConfig {
		t.Fatalf("got %s at %q, want failed at config", b.Status, b.FailedStage)
	}
	var msg string
	for _, st := range b.Stages {
		if st.Stage == baleen.StageConfig {
			msg = st.Message
		}
	}
	if !strings.Contains(msg, "runs_on") || !strings.Contains(msg, "gpu") {
		t.Errorf("config stage says %q, want runs_on and the label", msg)
	}
}
