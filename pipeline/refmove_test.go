package pipeline_test

import (
	"context"
	"io"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/store"
)

// TestPushBuildRecordsRefMove: a push's green build leaves its ref move in the store with its verdict, so
// that a server stopped before the push moved the branch can complete the move at its next start; a red
// push build and a build that is not a push's record none.
func TestPushBuildRecordsRefMove(t *testing.T) {
	sv := newServer(t, nil)
	sv.commit("web", "c1", appSpec)
	sv.setBranch("main", "c0")
	green, err := sv.s.Run(t.Context(), pipeline.Request{Project: "web", Branch: "main", Commit: "c1", Pusher: "test", Old: "c0", HoldImages: true})
	if err != nil || green.Status != baleen.StatusPassed {
		t.Fatalf("push build: got %s (%s), %v; want passed", green.Status, green.Message, err)
	}
	sv.s.Settle(t.Context(), "web", green.Number)
	want := store.RefMove{Project: "web", Number: green.Number, Ref: "refs/heads/main", Old: "c0", New: "c1"}
	if got := refMoves(t, sv.st); len(got) != 1 || got[0] != want {
		t.Fatalf("ref moves after a green push build: got %+v, want %+v", got, want)
	}
	if err := sv.st.DoneRefMove(t.Context(), "web", green.Number); err != nil {
		t.Fatal(err)
	}

	rebuild := sv.run("web", "c1", io.Discard)
	if rebuild.Status != baleen.StatusPassed {
		t.Fatalf("rebuild: got %s, want passed", rebuild.Status)
	}
	sv.eng.Test = func(context.Context, baleen.BuildID, baleen.ContainerSpec, io.Writer) (int, error) { return 1, nil }
	red, err := sv.s.Run(t.Context(), pipeline.Request{Project: "web", Branch: "main", Commit: "c1", Pusher: "test", Old: "c0", HoldImages: true})
	if err != nil || red.Status != baleen.StatusFailed {
		t.Fatalf("red push build: got %s, %v; want failed", red.Status, err)
	}
	sv.s.Settle(t.Context(), "web", red.Number)
	if got := refMoves(t, sv.st); len(got) != 0 {
		t.Errorf("ref moves after a rebuild and a red push build: got %+v, want none", got)
	}
}

func refMoves(t *testing.T, st *store.Store) []store.RefMove {
	t.Helper()
	moves, err := st.RefMoves(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return moves
}
