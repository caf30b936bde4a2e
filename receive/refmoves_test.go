package receive

import (
	"context"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/gitd"
	"github.com/baleen-ci/baleen/store"
)

// gitOut runs git in dir and returns its trimmed output.
func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(cmd.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestCompleteRefMovesAfterCrash: a server stopped after recording a push's green verdict and before moving
// its branch leaves the ref move pending; at the next start CompleteRefMoves makes it by compare-and-swap
// in the real repository (git update-ref) and then settles the build. A branch that moved meanwhile is
// left alone and the build's record says so; a move whose build did not pass, or that was made before the
// stop, changes nothing. Every pending move is forgotten afterwards.
func TestCompleteRefMovesAfterCrash(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed: ", err)
	}
	reposDir, dbDir := t.TempDir(), t.TempDir()
	work := t.TempDir()
	gitOut(t, reposDir, "init", "-q", "--bare", "app.git")
	gitOut(t, work, "init", "-q", "-b", "main")
	commit := func(msg string) string {
		gitOut(t, work, "commit", "-q", "--allow-empty", "-m", msg)
		return gitOut(t, work, "rev-parse", "HEAD")
	}
	c0, c1, c2 := commit("c0"), commit("c1"), commit("c2")
	gitOut(t, work, "push", "-q", filepath.Join(reposDir, "app.git"), c2+":refs/heads/other")
	bare := filepath.Join(reposDir, "app.git")
	for _, b := range []string{"main", "moved", "red", "done"} {
		gitOut(t, bare, "update-ref", "refs/heads/"+b, c0)
	}
	gitOut(t, bare, "update-ref", "refs/heads/moved", c2) // another writer moved it before the restart
	gitOut(t, bare, "update-ref", "refs/heads/done", c1)  // moved before the stop, not yet forgotten

	// fresh is a repository whose first push, of dev, was cut short: HEAD names a main that does not exist.
	gitOut(t, reposDir, "init", "-q", "--bare", "--initial-branch=main", "fresh.git")
	gitOut(t, work, "push", "-q", filepath.Join(reposDir, "fresh.git"), c1+":refs/heads/tmp")
	gitOut(t, filepath.Join(reposDir, "fresh.git"), "update-ref", "-d", "refs/heads/tmp")

	// The crash: each build is recorded with its pending ref move, and no ref moves.
	st, err := store.Open(dbDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, name := range []string{"app", "fresh"} {
		if err := st.CreateProject(ctx, baleen.Project{Name: name, Created: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
	}
	fresh, err := st.CreateBuild(ctx, baleen.Build{Project: "fresh", Branch: "dev", Commit: c1, Created: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	passed := baleen.StatusPassed
	if err := st.AddRefMove(ctx, "fresh", fresh.Number, "refs/heads/dev", zeroID, c1); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateBuild(ctx, "fresh", fresh.Number, baleen.BuildPatch{Status: &passed}); err != nil {
		t.Fatal(err)
	}
	numbers := map[string]int{}
	for _, branch := range []string{"main", "moved", "red", "done", "new"} {
		b, err := st.CreateBuild(ctx, baleen.Build{Project: "app", Branch: branch, Commit: c1, Created: time.Now().UTC()})
		if err != nil {
			t.Fatal(err)
		}
		numbers[branch] = b.Number
		old := c0
		if branch == "new" {
			old = zeroID
		}
		if err := st.AddRefMove(ctx, "app", b.Number, "refs/heads/"+branch, old, c1); err != nil {
			t.Fatal(err)
		}
		status := baleen.StatusPassed
		if branch == "red" {
			status = baleen.StatusInterrupted // stopped between the ref move's record and the verdict
		}
		if _, err := st.UpdateBuild(ctx, "app", b.Number, baleen.BuildPatch{Status: &status}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// The next start.
	st, err = store.Open(dbDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	repos, err := gitd.NewRepositories(reposDir)
	if err != nil {
		t.Fatal(err)
	}
	sched := &recordingScheduler{}
	if err := CompleteRefMoves(ctx, st, st, repos, sched, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"main": c1, "moved": c2, "red": c0, "done": c1, "new": c1}
	for branch, commit := range want {
		if got := gitOut(t, bare, "rev-parse", "refs/heads/"+branch); got != commit {
			t.Errorf("%s: got %s, want %s", branch, got, commit)
		}
	}
	if got := gitOut(t, filepath.Join(reposDir, "fresh.git"), "rev-parse", "HEAD"); got != c1 {
		t.Errorf("HEAD of a repository whose first push was cut short: got %s, want dev's %s", got, c1)
	}
	rec, err := st.Build(ctx, "app", numbers["moved"])
	if err != nil || rec.Status != baleen.StatusPassed || !strings.Contains(rec.Message, "moved was not moved") {
		t.Errorf("record of the build whose branch moved meanwhile: got %s %q, %v; want passed, saying the branch was not moved", rec.Status, rec.Message, err)
	}
	if rec, _ := st.Build(ctx, "app", numbers["main"]); rec.Message != "" {
		t.Errorf("record of the completed move: got message %q, want none", rec.Message)
	}
	if moves, err := st.RefMoves(ctx); err != nil || len(moves) != 0 {
		t.Errorf("ref moves after recovery: got %+v, %v; want none", moves, err)
	}
	if settled := strings.Join(sched.calls, ", "); !strings.Contains(settled, "settle app #1") {
		t.Errorf("settled: got %s, want build #1 among them", settled)
	}
}

// TestPostReceiveForgetsRefMove: once the push has moved its branch (or refused it), the pending ref move
// of its build is forgotten, so a later start moves nothing.
func TestPostReceiveForgetsRefMove(t *testing.T) {
	st, err := store.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sched := &recordingScheduler{result: baleen.Build{Number: 4, Status: baleen.StatusPassed}}
	r := New(sched, st, st, nil, slog.New(slog.DiscardHandler))
	old, nw := strings.Repeat("a", 40), strings.Repeat("b", 40)
	p := gitd.Push{Project: "app", Updates: []gitd.RefUpdate{{Name: "refs/heads/main", Old: old, New: nw}}}
	r.Receive(t.Context(), p, io.Discard)
	if err := st.AddRefMove(context.Background(), "app", 4, "refs/heads/main", old, nw); err != nil { // what the pipeline records
		t.Fatal(err)
	}
	r.PostReceive(t.Context(), p, p.Updates)
	if moves, err := st.RefMoves(t.Context()); err != nil || len(moves) != 0 {
		t.Errorf("ref moves after the push moved its branch: got %+v, %v; want none", moves, err)
	}
}
