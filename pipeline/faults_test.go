package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline"
)

// An engine that stops answering during the tests fails the build for infrastructure, at the test stage,
// never as a red test; the push output and the record both say so.
func TestEngineFaultIsInfrastructureFailure(t *testing.T) {
	sv := newServer(t, nil)
	sv.eng.Test = func(context.Context, baleen.BuildID, baleen.ContainerSpec, io.Writer) (int, error) {
		return -1, fmt.Errorf("engine local stopped answering: wait for container: %w", baleen.ErrUnavailable)
	}
	sv.commit("app", "c1", appSpec)
	var out bytes.Buffer
	b := sv.run("app", "c1", &out)
	if b.Status != baleen.StatusFailed || b.FailedStage != baleen.StageTest {
		t.Fatalf("build ended %s at %q, want failed at test", b.Status, b.FailedStage)
	}
	if !baleen.Infrastructure(b.Status, b.Message) {
		t.Errorf("message %q is not marked as infrastructure", b.Message)
	}
	if !strings.Contains(b.Message, "engine local stopped answering") {
		t.Errorf("message %q does not carry the engine's reason", b.Message)
	}
	if !strings.Contains(out.String(), "FAILED (infrastructure)") {
		t.Errorf("push output does not say the infrastructure failed:\n%s", out.String())
	}
	for _, st := range b.Stages {
		if st.Stage == baleen.StageTest && !baleen.Infrastructure(st.Status, st.Message) {
			t.Errorf("test stage recorded %s %q, want an infrastructure failure", st.Status, st.Message)
		}
	}
}

// A red test stays a test failure: only errors of the infrastructure are marked.
func TestRedTestIsNotInfrastructure(t *testing.T) {
	sv := newServer(t, nil)
	sv.eng.Test = func(context.Context, baleen.BuildID, baleen.ContainerSpec, io.Writer) (int, error) { return 1, nil }
	sv.commit("app", "c1", appSpec)
	b := sv.run("app", "c1", nil)
	if b.Status != baleen.StatusFailed || baleen.Infrastructure(b.Status, b.Message) {
		t.Fatalf("red test recorded %s %q, want a plain test failure", b.Status, b.Message)
	}
}

// A teardown the engine could not finish stays pending in the store and is retried after the next build
// until the engine has removed everything; a restart (Recover) retries it too.
func TestFailedTeardownIsRetried(t *testing.T) {
	sv := newServer(t, func(c *pipeline.SchedulerConfig) { c.Teardowns = c.Builds.(pipeline.Teardowns) })
	sv.eng.SetTeardownErr(fmt.Errorf("engine local stopped answering: %w", baleen.ErrUnavailable))
	sv.commit("app", "c1", appSpec)
	b := sv.run("app", "c1", nil)
	pending := func() map[baleen.BuildID]string {
		p, err := sv.st.PendingTeardowns(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	id := b.ID("abcd0123")
	waitFor(t, "the failed teardown to be recorded", func() bool { _, ok := pending()[id]; return ok })

	// At start-up: a scheduler on the same store retries it, and still keeps it while the engine fails.
	failed := func() int {
		n := 0
		for _, c := range sv.eng.Calls() {
			if c == "Teardown "+string(id)+" failed" {
				n++
			}
		}
		return n
	}
	before := failed()
	again := pipeline.NewScheduler(pipeline.SchedulerConfig{Pipeline: pipeline.New(sv.eng, nil), Projects: sv.st, Builds: sv.st,
		Repos: sv.repos, Teardowns: sv.st, Instance: "abcd0123"})
	if err := again.Recover(context.Background()); err != nil {
		t.Errorf("Recover: %v", err)
	}
	waitFor(t, "the teardown to be retried at start-up", func() bool { return failed() > before })
	again.Shutdown(context.Background())
	if _, ok := pending()[id]; !ok {
		t.Fatal("a teardown that failed again was forgotten")
	}

	// After the next build, once the engine answers again.
	sv.eng.SetTeardownErr(nil)
	sv.commit("app", "c2", appSpec)
	sv.run("app", "c2", nil)
	waitFor(t, "the pending teardown to be retried and forgotten", func() bool { return len(pending()) == 0 })
	if !slices.Contains(sv.eng.TornDown(), id) {
		t.Errorf("build %s was never torn down; torn down: %v", id, sv.eng.TornDown())
	}
}

// Cancelling a build whose teardown is stuck in the engine frees the project's queue at once: the next
// build of the project runs while the stuck teardown waits in the background.
func TestCancelWithStuckTeardownFreesQueue(t *testing.T) {
	sv := newServer(t, func(c *pipeline.SchedulerConfig) { c.Teardowns = c.Builds.(pipeline.Teardowns) })
	g := newGate()
	sv.eng.Test = g.test
	hold := make(chan struct{})
	sv.eng.TeardownHold = hold
	sv.commit("app", "c1", appSpec)
	first := sv.start("app", "c1", nil)
	g.waitStarted(t)
	if err := sv.s.Cancel("app", 1); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if b := wait(t, first); b.Status != baleen.StatusCancelled {
		t.Fatalf("cancelled build ended %s (%s), want cancelled", b.Status, b.Message)
	}
	sv.commit("app", "c2", appSpec)
	second := sv.start("app", "c2", nil)
	g.waitStarted(t) // the queue was freed although the first teardown is still held
	close(g.open)
	close(hold)
	if b := wait(t, second); b.Status != baleen.StatusPassed {
		t.Errorf("the next build ended %s (%s), want passed", b.Status, b.Message)
	}
}
