package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
)

// TestDeleteBuild deletes a finished build with a log of many chunks (more than one transaction holds) and
// a test run: its record, log and run are gone, its neighbour keeps all of its own, and numbering goes on
// above the deleted one. A running build is refused.
func TestDeleteBuild(t *testing.T) {
	s, _ := openStore(t)
	ctx := t.Context()
	if err := s.CreateProject(ctx, baleen.Project{Name: "app"}); err != nil {
		t.Fatal(err)
	}
	var nums []int
	for range 3 {
		b, err := s.CreateBuild(ctx, baleen.Build{Project: "app", Branch: "main"})
		if err != nil {
			t.Fatal(err)
		}
		nums = append(nums, b.Number)
		w, err := s.LogWriter(ctx, "app", b.Number)
		if err != nil {
			t.Fatal(err)
		}
		// 600 chunks of 32 KiB: more than one deletion batch.
		chunk := strings.Repeat("x", 32<<10-1) + "\n"
		for range 600 {
			if _, err := w.Write([]byte(chunk)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		run := baleen.TestRun{Project: "app", Number: b.Number, Branch: "main", Created: time.Now(),
			Cases: []baleen.TestCase{{Name: "t", Outcome: baleen.TestPassed}}}
		if err := s.RecordTests(ctx, run); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nums[:2] {
		if _, err := s.UpdateBuild(ctx, "app", n, baleen.BuildPatch{Status: ptr(baleen.StatusPassed)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteBuild(ctx, "app", nums[0]); err != nil {
		t.Fatalf("DeleteBuild: %v", err)
	}
	if _, err := s.Build(ctx, "app", nums[0]); !errors.Is(err, baleen.ErrNotFound) {
		t.Errorf("deleted build: got %v, want ErrNotFound", err)
	}
	if _, err := s.Log(ctx, "app", nums[0], 0); !errors.Is(err, baleen.ErrNotFound) {
		t.Errorf("deleted build's log: got %v, want ErrNotFound", err)
	}
	if n := s.CountLogChunks("app", nums[0]); n != 0 {
		t.Errorf("deleted build's log: %d chunks left, want none", n)
	}
	if got := readLog(t, s, "app", nums[1], 0); len(got) != 600*32<<10 {
		t.Errorf("kept build's log: got %d bytes, want %d", len(got), 600*32<<10)
	}
	runs, err := s.TestRuns(ctx, "app", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.Number == nums[0] {
			t.Errorf("deleted build's test run is still listed")
		}
	}
	if len(runs) != 2 {
		t.Errorf("test runs after one deletion: got %d, want 2", len(runs))
	}
	if err := s.DeleteBuild(ctx, "app", nums[0]); !errors.Is(err, baleen.ErrNotFound) {
		t.Errorf("delete again: got %v, want ErrNotFound", err)
	}
	if err := s.DeleteBuild(ctx, "app", nums[2]); !errors.Is(err, baleen.ErrConflict) {
		t.Errorf("delete a queued build: got %v, want ErrConflict", err)
	}
	b, err := s.CreateBuild(ctx, baleen.Build{Project: "app"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Number != nums[2]+1 {
		t.Errorf("number after a deletion: got %d, want %d", b.Number, nums[2]+1)
	}
}
