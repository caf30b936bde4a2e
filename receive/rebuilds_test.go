package receive

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/gitd"
	"github.com/baleen-ci/baleen/store"
)

// withDependent adds project web, whose main depends on app's main and asks to be rebuilt when it
// changes, with a repository whose main is at c0.
func (w *crashWorld) withDependent() {
	w.t.Helper()
	gitOut(w.t, w.reposDir, "init", "-q", "--bare", "web.git")
	gitOut(w.t, w.work, "push", "-q", filepath.Join(w.reposDir, "web.git"), w.c0+":refs/heads/main")
	b, err := w.st.CreateBuild(w.t.Context(), baleen.Build{Project: "web", Branch: "main", Commit: w.c0})
	if err != nil {
		w.t.Fatal(err)
	}
	passed := baleen.StatusPassed
	deps := []baleen.DependencyBuild{{Name: "app", Project: "app", Branch: "main", Commit: w.c0, Build: 1, RebuildDependents: true}}
	if _, err := w.st.UpdateBuild(w.t.Context(), "web", b.Number, baleen.BuildPatch{Status: &passed, Dependencies: deps}); err != nil {
		w.t.Fatal(err)
	}
}

// waitRebuilds polls until the scheduler was asked for n builds of web and no rebuild is recorded, for 10
// seconds at most; every rebuild of web must be of its main at c0, after app's main.
func (w *crashWorld) waitRebuilds(n int) {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var web int
		for _, req := range w.sched.requests() {
			if req.Project == "web" {
				web++
				if req.Branch != "main" || req.Commit != w.c0 || req.Pusher != "rebuild after app main" {
					w.t.Errorf("rebuild request: got %s %s %s by %q, want web main %s by \"rebuild after app main\"", req.Project, req.Branch, req.Commit, req.Pusher, w.c0)
				}
			}
		}
		rs, err := w.st.Rebuilds(w.t.Context())
		if err != nil {
			w.t.Fatal(err)
		}
		if web == n && len(rs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("got %d rebuilds of web and %+v still recorded, want %d and none", web, rs, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recorded is the rebuilds recorded in the store.
func (w *crashWorld) recorded() []store.Rebuild {
	w.t.Helper()
	rs, err := w.st.Rebuilds(w.t.Context())
	if err != nil {
		w.t.Fatal(err)
	}
	return rs
}

// TestRebuildsOutliveACrash: the rebuild of a dependent that a green push owes is recorded in the store
// before the push's ref moves. A server stopped between the verdict and the ref move queues it at its next
// start, once CompleteRefMoves has moved the ref (the store reopened in between), and forgets it once it is
// queued; when the ref did not move (it moved elsewhere meanwhile), it is forgotten and nothing is rebuilt.
func TestRebuildsOutliveACrash(t *testing.T) {
	for _, meanwhile := range []bool{false, true} {
		name := map[bool]string{false: "ref moved at restart", true: "ref moved elsewhere meanwhile"}[meanwhile]
		t.Run(name, func(t *testing.T) {
			w := newCrashWorld(t, "web")
			w.withDependent()
			r := New(w.sched, w.st, w.st, w.repos, slog.New(slog.DiscardHandler))
			p := gitd.Push{Project: "app", Updates: []gitd.RefUpdate{{Name: "refs/heads/main", Old: w.c0, New: w.c1}}}
			if errs := r.Receive(t.Context(), p, io.Discard); errs[0] != nil {
				t.Fatal(errs[0])
			}
			want := store.Rebuild{Project: "app", Ref: "refs/heads/main", Commit: w.c1, Dependent: "web", Branch: "main"}
			if rs := w.recorded(); len(rs) != 1 || rs[0] != want {
				t.Fatalf("rebuilds recorded before the ref move: got %+v, want %+v", rs, want)
			}
			if meanwhile {
				gitOut(t, w.bare, "update-ref", "refs/heads/main", w.c2)
			}
			// The stop: no PostReceive. The next start:
			w.restart()
			log := slog.New(slog.DiscardHandler)
			if err := CompleteRefMoves(t.Context(), w.st, w.st, w.repos, w.sched, log); err != nil {
				t.Fatal(err)
			}
			if err := QueueRebuilds(t.Context(), w.st, w.repos, w.sched, log); err != nil {
				t.Fatal(err)
			}
			if meanwhile {
				w.waitRebuilds(0)
				return
			}
			w.waitRebuilds(1)
		})
	}
}

// TestRebuildsAfterThePush: without a stop, the push queues the rebuilds its green build owes once its ref
// moved (PostReceive) and forgets them in the store; a ref that did not move, or a red build, owes none.
func TestRebuildsAfterThePush(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status baleen.Status
		moved  bool
		want   int
	}{
		{"moved", baleen.StatusPassed, true, 1},
		{"refused", baleen.StatusPassed, false, 0},
		{"red", baleen.StatusFailed, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newCrashWorld(t, "web")
			w.withDependent()
			w.sched.status["main"] = tc.status
			r := New(w.sched, w.st, w.st, w.repos, slog.New(slog.DiscardHandler))
			p := gitd.Push{Project: "app", Updates: []gitd.RefUpdate{{Name: "refs/heads/main", Old: w.c0, New: w.c1}}}
			r.Receive(t.Context(), p, io.Discard)
			if tc.status != baleen.StatusPassed {
				if rs := w.recorded(); len(rs) != 0 {
					t.Errorf("rebuilds recorded after a red build: got %+v, want none", rs)
				}
			}
			var moved []gitd.RefUpdate
			if tc.moved {
				moved = p.Updates
			}
			r.PostReceive(t.Context(), p, moved)
			w.waitRebuilds(tc.want)
		})
	}
}
