package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline"
)

// engineGone makes the tests on engine name of p fail as an engine that stopped answering does.
func engineGone(p *fakePool, name string) {
	p.eng[name].Test = func(context.Context, baleen.BuildID, baleen.ContainerSpec, io.Writer) (int, error) {
		return 0, fmt.Errorf("engine %s stopped answering: no answer within 30s: %w", name, baleen.ErrUnavailable)
	}
}

func retryServer(t *testing.T, p *fakePool, retries int) *server {
	return newServer(t, func(c *pipeline.SchedulerConfig) {
		c.Engines, c.Teardowns, c.EngineRetries = p, c.Builds.(pipeline.Teardowns), retries
	})
}

// A build whose engine stops answering during its tests runs again on the other engine, under an id of
// its own, and passes; the push's output says so, and each attempt is torn down on its own engine.
func TestRetryOnAnotherEngine(t *testing.T) {
	p := newFakePool(map[string][]string{"a": nil, "b": nil})
	engineGone(p, "a")
	sv := retryServer(t, p, 1)
	sv.commit("app", "c1", appSpec)
	var out syncBuffer
	b := sv.run("app", "c1", &out)
	if b.Status != baleen.StatusPassed || b.FailedStage != "" {
		t.Fatalf("got %s at %q (%s), want passed on the retry; output:\n%s", b.Status, b.FailedStage, b.Message, out.String())
	}
	if !strings.Contains(out.String(), "retrying on another engine (1 of 1): engine a failed the build: infrastructure: engine a stopped answering") {
		t.Errorf("output does not say the build is retried, and why:\n%s", out.String())
	}
	retry := baleen.BuildID("app-1-r1-abcd0123")
	if ran := p.ranOn("b"); !slices.Equal(ran, []string{string(retry)}) {
		t.Errorf("tests on engine b: %v, want the retry %s", ran, retry)
	}
	waitFor(t, "each attempt's teardown on its engine", func() bool {
		return slices.Contains(p.eng["a"].TornDown(), b.ID("abcd0123")) && slices.Contains(p.eng["b"].TornDown(), retry)
	})
	var tests []baleen.Status
	for _, st := range b.Stages {
		if st.Stage == baleen.StageTest {
			tests = append(tests, st.Status)
		}
	}
	if !slices.Equal(tests, []baleen.Status{baleen.StatusFailed, baleen.StatusPassed}) {
		t.Errorf("test stages recorded: %v, want the failed attempt then the passed retry", tests)
	}
}

// The cases where the build is not retried: retries not configured, a red test (not the engine's fault),
// and no other engine with the labels the project asks for.
func TestRetryNotMade(t *testing.T) {
	cases := []struct {
		name     string
		retries  int
		labels   map[string][]string
		runsOn   string
		red      bool
		wantSays string
	}{
		{name: "not configured", retries: 0, labels: map[string][]string{"a": nil, "b": nil}},
		{name: "red test", retries: 1, labels: map[string][]string{"a": nil, "b": nil}, red: true},
		{name: "no other engine", retries: 1, labels: map[string][]string{"a": {"big"}, "b": nil}, runsOn: "runs_on: [big]\n",
			wantSays: "not retried: no other engine to retry on: no engine has the labels [big]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newFakePool(c.labels)
			engineGone(p, "a")
			if c.red {
				p.eng["a"].Test = func(_ context.Context, _ baleen.BuildID, _ baleen.ContainerSpec, out io.Writer) (int, error) {
					fmt.Fprintln(out, "FAIL")
					return 1, nil
				}
			}
			sv := retryServer(t, p, c.retries)
			sv.commit("app", "c1", c.runsOn+appSpec)
			var out syncBuffer
			b := sv.run("app", "c1", &out)
			if b.Status != baleen.StatusFailed || b.FailedStage != baleen.StageTest {
				t.Errorf("got %s at %q (%s), want failed at test", b.Status, b.FailedStage, b.Message)
			}
			if baleen.Infrastructure(b.Status, b.Message) == c.red {
				t.Errorf("message %q: infrastructure is %v, want %v", b.Message, !c.red, c.red)
			}
			if strings.Contains(out.String(), "retrying") || len(p.ranOn("b")) != 0 {
				t.Errorf("the build was retried (tests on b: %v); output:\n%s", p.ranOn("b"), out.String())
			}
			if c.wantSays != "" && !strings.Contains(out.String(), c.wantSays) {
				t.Errorf("output does not say %q:\n%s", c.wantSays, out.String())
			}
		})
	}
}
