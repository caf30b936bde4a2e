package pipeline_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline"
)

// Shutdown waits for a running build through the grace period.
func TestShutdownWaitsForBuildsWithinGrace(t *testing.T) {
	g := newGate()
	sv := newServer(t, nil)
	sv.eng.Test = g.test
	sv.commit("app", "c1", appSpec)
	done := sv.start("app", "c1", io.Discard)
	g.waitStarted(t)
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		shut <- sv.s.Shutdown(ctx)
	}()
	waitFor(t, "the scheduler to refuse new builds", func() bool {
		_, err := sv.s.Run(t.Context(), pipeline.Request{Project: "app", Branch: "main", Commit: "absent"})
		return errors.Is(err, baleen.ErrUnavailable)
	})
	close(g.open)
	if b := wait(t, done); b.Status != baleen.StatusPassed {
		t.Errorf("build within the grace period: got %s, want passed", b.Status)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: got %v, want nil", err)
	}
}

// A build still running after the grace period is interrupted, and its containers removed.
func TestShutdownInterruptsAfterGrace(t *testing.T) {
	g := newGate()
	sv := newServer(t, nil)
	sv.eng.Test = g.test
	sv.commit("app", "c1", appSpec)
	done := sv.start("app", "c1", io.Discard)
	id := g.waitStarted(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no grace left
	if err := sv.s.Shutdown(ctx); err == nil {
		t.Error("Shutdown past the grace period: got nil, want an error")
	}
	b := wait(t, done)
	if b.Status != baleen.StatusInterrupted || b.FailedStage != baleen.StageTest {
		t.Errorf("got %s at %q, want interrupted at test", b.Status, b.FailedStage)
	}
	if !slices.Contains(sv.eng.TornDown(), baleen.BuildID(id)) || sv.eng.Containers() != 0 {
		t.Errorf("after the interruption: torn down %v, %d containers left; want %s torn down, none left", sv.eng.TornDown(), sv.eng.Containers(), id)
	}
}

// After a crash, the builds and releases the store says were running are marked interrupted, and the
// builds' leftovers are removed.
func TestRecoverAfterCrash(t *testing.T) {
	sv := newServer(t, nil)
	sv.commit("app", "c1", appSpec)
	ctx := t.Context()
	b, err := sv.st.CreateBuild(ctx, baleen.Build{Project: "app", Commit: "c1", Branch: "main", Created: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	running := baleen.StatusRunning
	if _, err := sv.st.UpdateBuild(ctx, "app", b.Number, baleen.BuildPatch{Status: &running}); err != nil {
		t.Fatal(err)
	}
	queued, err := sv.st.CreateBuild(ctx, baleen.Build{Project: "app", Commit: "c1", Branch: "main", Created: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	rel, err := sv.st.CreateRelease(ctx, baleen.Release{Project: "app", Build: b.Number, Target: "prod", Status: baleen.StatusRunning, Started: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	if err := sv.s.Recover(ctx); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	for _, n := range []int{b.Number, queued.Number} {
		got, err := sv.st.Build(ctx, "app", n)
		if err != nil || got.Status != baleen.StatusInterrupted || got.Finished.IsZero() {
			t.Errorf("build #%d after Recover: got %s (finished %v), %v; want interrupted", n, got.Status, got.Finished, err)
		}
	}
	if got := sv.eng.TornDown(); !slices.Contains(got, b.ID("abcd0123")) || !slices.Contains(got, queued.ID("abcd0123")) {
		t.Errorf("torn down: got %v, want both builds", got)
	}
	if got, err := sv.st.Release(ctx, "app", rel.Number); err != nil || got.Status != baleen.StatusInterrupted {
		t.Errorf("release after Recover: got %s, %v; want interrupted", got.Status, err)
	}
	// And the server builds again.
	if nb := sv.run("app", "c1", io.Discard); nb.Status != baleen.StatusPassed {
		t.Errorf("build after Recover: got %s, want passed", nb.Status)
	}
}
