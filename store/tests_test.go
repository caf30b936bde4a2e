package store_test

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/store"
	"github.com/google/go-cmp/cmp"
)

// run is a test run of project api with the given cases.
func run(number int, branch, commit string, cases ...baleen.TestCase) baleen.TestRun {
	return baleen.TestRun{Project: "api", Number: number, Branch: branch, Commit: commit, Created: t0.Add(time.Duration(number) * time.Minute), Cases: cases}
}

func pass(name string, d time.Duration) baleen.TestCase {
	return baleen.TestCase{Name: name, Outcome: baleen.TestPassed, Duration: d}
}

func fail(name string) baleen.TestCase {
	return baleen.TestCase{Name: name, Outcome: baleen.TestFailed}
}

func TestTestRuns(t *testing.T) {
	s, dir := openStore(t)
	ctx := t.Context()
	runs := []baleen.TestRun{
		run(1, "main", "aaa", pass("a", 12*time.Millisecond), fail("b")),
		run(2, "dev", "bbb", pass("a", time.Millisecond), pass("c", 0)),
		run(3, "main", "ccc", fail("a"), pass("b", 2*time.Second), baleen.TestCase{Name: "d", Outcome: baleen.TestSkipped}),
		// The same name twice in one run (a parametrised test reported under one name) keeps both entries.
		run(4, "main", "ccc", pass("a", 0), pass("a", 0)),
	}
	for _, r := range runs {
		if err := s.RecordTests(ctx, r); err != nil {
			t.Fatalf("RecordTests(%d): %v", r.Number, err)
		}
	}
	tests := []struct {
		name   string
		branch string
		limit  int
		want   []baleen.TestRun
	}{
		{"every branch", "", 0, []baleen.TestRun{runs[3], runs[2], runs[1], runs[0]}},
		{"one branch", "main", 0, []baleen.TestRun{runs[3], runs[2], runs[0]}},
		{"limited", "main", 2, []baleen.TestRun{runs[3], runs[2]}},
		{"other branch", "dev", 0, []baleen.TestRun{runs[1]}},
		{"no such branch", "gone", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.TestRuns(ctx, "api", tt.branch, tt.limit)
			if err != nil {
				t.Fatalf("TestRuns: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("TestRuns mismatch (-want +got):\n%s", diff)
			}
		})
	}

	// A rebuild's record replaces the earlier one; a deleted build's record is gone; the rest survive a
	// restart.
	runs[3] = run(4, "main", "ccc", fail("e"))
	if err := s.RecordTests(ctx, runs[3]); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTests(ctx, "api", 1); err != nil {
		t.Fatalf("DeleteTests: %v", err)
	}
	if err := s.DeleteTests(ctx, "api", 99); err != nil {
		t.Errorf("DeleteTests of a build with nothing kept: got %v, want nil", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := store.Open(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, err := s2.TestRuns(ctx, "api", "main", 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]baleen.TestRun{runs[3], runs[2]}, got); diff != "" {
		t.Errorf("after delete and reopen (-want +got):\n%s", diff)
	}
}

func TestTestRunsInvalid(t *testing.T) {
	s, _ := openStore(t)
	ctx := t.Context()
	if err := s.RecordTests(ctx, baleen.TestRun{Project: "../x", Number: 1}); !errors.Is(err, baleen.ErrInvalid) {
		t.Errorf("RecordTests with a bad project: got %v, want ErrInvalid", err)
	}
	if err := s.RecordTests(ctx, baleen.TestRun{Project: "api", Number: 0}); !errors.Is(err, baleen.ErrInvalid) {
		t.Errorf("RecordTests with build 0: got %v, want ErrInvalid", err)
	}
	if _, err := s.TestRuns(ctx, "api", "", -1); !errors.Is(err, baleen.ErrInvalid) {
		t.Errorf("TestRuns with limit -1: got %v, want ErrInvalid", err)
	}
	if got, err := s.TestRuns(ctx, "api", "", 0); err != nil || len(got) != 0 {
		t.Errorf("TestRuns of a project with no history: got %v, %v; want none, nil", got, err)
	}
}

// TestTestRunsMany records more new names than one transaction numbers, and checks what the history
// costs per case once the names are known.
func TestTestRunsMany(t *testing.T) {
	s, _ := openStore(t)
	ctx := t.Context()
	const n = 5000
	cases := make([]baleen.TestCase, n)
	for i := range cases {
		cases[i] = pass(fmt.Sprintf("pkg.TestCase%05d", i), time.Duration(i)*time.Millisecond)
	}
	for number := 1; number <= 2; number++ {
		if err := s.RecordTests(ctx, run(number, "main", "abc", cases...)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.TestRuns(ctx, "api", "main", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got[0].Cases) != n || got[0].Cases[n-1] != cases[n-1] {
		t.Fatalf("got %d runs, want 2 of %d cases ending in %+v", len(got), n, cases[n-1])
	}
	size := store.EncodedRunSize(run(3, "main", "abc", cases...), n)
	t.Logf("a run of %d cases takes %d bytes: %.1f per case", n, size, float64(size)/n)
	if size > 8*n {
		t.Errorf("a run of %d cases takes %d bytes, want at most %d (a few per case)", n, size, 8*n)
	}
}
