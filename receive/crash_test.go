package receive

import (
	"context"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/gitd"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/store"
)

// storeScheduler is a Scheduler at the pipeline's boundary that records its builds in a real store as the
// pipeline does: the build is created (and Request.Queued called), a green push build's ref move is
// recorded before its verdict, and the verdict is status[branch] (passed when absent).
type storeScheduler struct {
	st     *store.Store
	status map[string]baleen.Status
	mu     sync.Mutex
	runs   []pipeline.Request
	settle []int
}

func (s *storeScheduler) Run(ctx context.Context, req pipeline.Request) (baleen.Build, error) {
	s.mu.Lock()
	s.runs = append(s.runs, req)
	s.mu.Unlock()
	b, err := s.st.CreateBuild(ctx, baleen.Build{Project: req.Project, Branch: req.Branch, Commit: req.Commit, Pusher: req.Pusher, Signer: req.Signer})
	if err != nil {
		return baleen.Build{}, err
	}
	if req.Queued != nil {
		req.Queued(b)
	}
	status := baleen.StatusPassed
	if st, ok := s.status[req.Branch]; ok {
		status = st
	}
	if status == baleen.StatusPassed && req.HoldImages && req.Old != "" {
		if err := s.st.AddRefMove(ctx, req.Project, b.Number, "refs/heads/"+req.Branch, req.Old, req.Commit); err != nil {
			return baleen.Build{}, err
		}
	}
	return s.st.UpdateBuild(ctx, req.Project, b.Number, baleen.BuildPatch{Status: &status})
}

func (s *storeScheduler) Settle(_ context.Context, _ string, number int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle = append(s.settle, number)
}

// requests is what Run was asked, so far.
func (s *storeScheduler) requests() []pipeline.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]pipeline.Request(nil), s.runs...)
}

// crashWorld is a repository and a store for a push that the server does not finish: Receive runs, and the
// server stops before it moves the push's refs (no PostReceive).
type crashWorld struct {
	t            *testing.T
	reposDir, db string
	bare, work   string
	c0, c1, c2   string
	st           *store.Store
	repos        *gitd.Repositories
	sched        *storeScheduler
}

func newCrashWorld(t *testing.T, projects ...string) *crashWorld {
	w := &crashWorld{t: t, reposDir: t.TempDir(), db: t.TempDir(), work: t.TempDir()}
	w.bare = filepath.Join(w.reposDir, "app.git")
	gitOut(t, w.reposDir, "init", "-q", "--bare", "app.git")
	gitOut(t, w.work, "init", "-q", "-b", "main")
	commit := func(msg string) string {
		gitOut(t, w.work, "commit", "-q", "--allow-empty", "-m", msg)
		return gitOut(t, w.work, "rev-parse", "HEAD")
	}
	w.c0, w.c1, w.c2 = commit("c0"), commit("c1"), commit("c2")
	gitOut(t, w.work, "push", "-q", w.bare, w.c2+":refs/heads/main", w.c2+":refs/heads/dev")
	for _, b := range []string{"main", "dev"} {
		gitOut(t, w.bare, "update-ref", "refs/heads/"+b, w.c0)
	}
	var err error
	if w.repos, err = gitd.NewRepositories(w.reposDir); err != nil {
		t.Fatal(err)
	}
	w.open()
	for _, name := range append([]string{"app"}, projects...) {
		if err := w.st.CreateProject(t.Context(), baleen.Project{Name: name, Created: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// open opens the store, as a server's start does.
func (w *crashWorld) open() {
	st, err := store.Open(w.db, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	w.st = st
	w.sched = &storeScheduler{st: st, status: map[string]baleen.Status{}}
	w.t.Cleanup(func() { st.Close() })
}

// restart closes the store and opens it again.
func (w *crashWorld) restart() {
	if err := w.st.Close(); err != nil {
		w.t.Fatal(err)
	}
	w.open()
}

// ref is where a ref of app points ("" when it does not exist).
func (w *crashWorld) ref(name string) string {
	out, _ := gitCmd(w.bare, "rev-parse", "-q", "--verify", name)
	return out
}

// gitCmd runs git in dir and returns its trimmed output and error.
func gitCmd(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

// TestAtomicPushRefMovesAfterCrash: the ref moves of an atomic push of two branches and a tag are one
// group. A server stopped after the builds' verdicts and before the push moved its refs moves all of them
// at its next start (CompleteRefMoves, with the real git repository), when every build is recorded passed
// and every branch still holds its old value; otherwise none moves, and each green build's record says
// why. Every pending move and group is forgotten afterwards, and the green builds are settled.
func TestAtomicPushRefMovesAfterCrash(t *testing.T) {
	for _, tc := range []struct {
		name string
		// interrupted: the branch whose build did not pass; meanwhile: what moved before the restart.
		interrupted, meanwhile string
		moved                  bool // the push moved its refs before the stop
		// forgotten: the push had also forgotten main's pending move, not yet dev's nor its group.
		forgotten bool
		// stale: an older pending move of main's update is left over (its forgetting failed once).
		stale     bool
		wantMoved bool
		why       string // in the green builds' messages
	}{
		{name: "all green", wantMoved: true},
		{name: "a branch moved meanwhile", meanwhile: "dev", why: "dev no longer held"},
		{name: "a build interrupted", interrupted: "dev", why: "the build of dev did not pass"},
		{name: "moved before the stop", moved: true, wantMoved: true},
		{name: "moved and half forgotten before the stop", moved: true, forgotten: true, wantMoved: true},
		{name: "a stale pending move is forgotten with the group", stale: true, wantMoved: true},
		{name: "a stale pending move never moves its branch alone", stale: true, interrupted: "dev", why: "the build of dev did not pass"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newCrashWorld(t)
			if tc.interrupted != "" {
				w.sched.status[tc.interrupted] = baleen.StatusInterrupted
			}
			r := New(w.sched, w.st, w.st, w.repos, slog.New(slog.DiscardHandler))
			p := gitd.Push{Project: "app", Atomic: true, Updates: []gitd.RefUpdate{
				{Name: "refs/heads/main", Old: w.c0, New: w.c1}, {Name: "refs/heads/dev", Old: w.c0, New: w.c1},
				{Name: "refs/tags/v1", Old: zeroID, New: w.c1}}}
			errs := r.Receive(t.Context(), p, io.Discard)
			if tc.interrupted == "" && (errs[0] != nil || errs[1] != nil || errs[2] != nil) {
				t.Fatalf("verdicts: got %v, want all nil", errs)
			}
			if groups, err := w.st.RefMoveGroups(t.Context()); err != nil || len(groups) != 1 || len(groups[0].Moves) != 3 {
				t.Fatalf("groups recorded by the push: got %+v, %v; want one of 3 moves", groups, err)
			}
			if tc.moved {
				if err := w.repos.SwapRefs(t.Context(), "app", p.Updates...); err != nil {
					t.Fatal(err)
				}
			}
			if tc.meanwhile != "" {
				gitOut(t, w.bare, "update-ref", "refs/heads/"+tc.meanwhile, w.c2)
			}
			if tc.forgotten {
				if err := w.st.DoneRefMove(t.Context(), "app", 1); err != nil {
					t.Fatal(err)
				}
			}
			if tc.stale {
				// Another green build of main's update (#3) whose pending move is recorded too: the group
				// takes the latest as its member, and must forget both.
				b, err := w.st.CreateBuild(t.Context(), baleen.Build{Project: "app", Branch: "main", Commit: w.c1})
				if err != nil {
					t.Fatal(err)
				}
				passed := baleen.StatusPassed
				if _, err := w.st.UpdateBuild(t.Context(), "app", b.Number, baleen.BuildPatch{Status: &passed}); err != nil {
					t.Fatal(err)
				}
				if err := w.st.AddRefMove(t.Context(), "app", b.Number, "refs/heads/main", w.c0, w.c1); err != nil {
					t.Fatal(err)
				}
			}
			// The stop: no PostReceive. The next start:
			w.restart()
			if err := CompleteRefMoves(t.Context(), w.st, w.st, w.repos, w.sched, slog.New(slog.DiscardHandler)); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"refs/heads/main": w.c0, "refs/heads/dev": w.c0, "refs/tags/v1": ""}
			if tc.meanwhile != "" {
				want["refs/heads/"+tc.meanwhile] = w.c2
			}
			if tc.wantMoved {
				want = map[string]string{"refs/heads/main": w.c1, "refs/heads/dev": w.c1, "refs/tags/v1": w.c1}
			}
			for ref, commit := range want {
				if got := w.ref(ref); got != commit {
					t.Errorf("%s: got %q, want %q", ref, got, commit)
				}
			}
			members := []int{1, 2}
			if tc.stale {
				members[0] = 3
			}
			for _, n := range members {
				b, err := w.st.Build(t.Context(), "app", n)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case b.Status != baleen.StatusPassed:
				case tc.why == "" && b.Message != "":
					t.Errorf("build #%d: got message %q, want none", n, b.Message)
				case tc.why != "" && (!strings.Contains(b.Message, tc.why) || !strings.Contains(b.Message, "passed; "+b.Branch+" was not moved")):
					t.Errorf("build #%d: got message %q, want it to say %s was not moved: %s", n, b.Message, b.Branch, tc.why)
				}
			}
			moves, err := w.st.RefMoves(t.Context())
			groups, gerr := w.st.RefMoveGroups(t.Context())
			if err != nil || gerr != nil || len(moves) != 0 || len(groups) != 0 {
				t.Errorf("after recovery: moves %+v (%v), groups %+v (%v); want none", moves, err, groups, gerr)
			}
			wantSettled := map[bool]int{true: 1, false: 2}[tc.interrupted != ""]
			if tc.forgotten {
				wantSettled = 1 // the push settled main's
			}
			if tc.stale {
				wantSettled++
			}
			if len(w.sched.settle) != wantSettled {
				t.Errorf("settled: got %v, want %d builds", w.sched.settle, wantSettled)
			}
		})
	}
}

// TestPushWithoutAtomicMovesEachRef: the builds of a push that is not atomic record no group, so a server
// stopped before the push moved its refs moves each green branch alone at its next start.
func TestPushWithoutAtomicMovesEachRef(t *testing.T) {
	w := newCrashWorld(t)
	w.sched.status["dev"] = baleen.StatusFailed
	r := New(w.sched, w.st, w.st, w.repos, slog.New(slog.DiscardHandler))
	p := gitd.Push{Project: "app", Updates: []gitd.RefUpdate{
		{Name: "refs/heads/main", Old: w.c0, New: w.c1}, {Name: "refs/heads/dev", Old: w.c0, New: w.c1}}}
	r.Receive(t.Context(), p, io.Discard)
	if groups, err := w.st.RefMoveGroups(t.Context()); err != nil || len(groups) != 0 {
		t.Fatalf("groups: got %+v, %v; want none", groups, err)
	}
	w.restart()
	if err := CompleteRefMoves(t.Context(), w.st, w.st, w.repos, w.sched, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if main, dev := w.ref("refs/heads/main"), w.ref("refs/heads/dev"); main != w.c1 || dev != w.c0 {
		t.Errorf("main, dev: got %s, %s; want %s (green), %s (red)", main, dev, w.c1, w.c0)
	}
}
