package history_test

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/report/history"
	"github.com/baleen-ci/baleen/store"
)

func tc(name string, o baleen.TestOutcome) baleen.TestCase {
	return baleen.TestCase{Name: name, Outcome: o, Duration: time.Duration(len(name)) * time.Millisecond}
}

const (
	P = baleen.TestPassed
	F = baleen.TestFailed
	S = baleen.TestSkipped
)

func run(n int, branch, commit string, cases ...baleen.TestCase) baleen.TestRun {
	return baleen.TestRun{Project: "api", Number: n, Branch: branch, Commit: commit, Cases: cases}
}

func TestCompare(t *testing.T) {
	earlier := []baleen.TestRun{ // newest first
		run(5, "main", "e", tc("a", F), tc("b", F), tc("c", P), tc("d", F)),
		run(4, "dev", "x", tc("a", P), tc("b", P), tc("c", F)),
		run(3, "main", "c", tc("a", F), tc("b", P), tc("c", P)),
		run(2, "main", "b", tc("b", F)), // a did not run
		run(1, "main", "a", tc("a", P), tc("b", F)),
	}
	cur := run(6, "main", "e", tc("a", F), tc("b", F), tc("c", F), tc("d", P), tc("e", F), tc("e", P), tc("f", S))
	want := []history.Status{
		{Name: "a", Outcome: F, Since: 3},                 // failed in 3 and 5; 2 did not run it; dev's pass is another branch
		{Name: "b", Outcome: F, Since: 5},                 // passed in 3
		{Name: "c", Outcome: F, New: true, Flaky: true},   // passed in 5 on commit e, fails now on e
		{Name: "d", Outcome: P, Fixed: true, Flaky: true}, // failed in 5 on commit e, passes now on commit e
		{Name: "e", Outcome: F, New: true},                // listed twice in this run: failed wins
		{Name: "f", Outcome: S},
	}
	if diff := cmp.Diff(want, history.Compare(cur, earlier)); diff != "" {
		t.Errorf("Compare mismatch (-want +got):\n%s", diff)
	}
}

// openStore opens a real store in a temporary directory.
func openStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(filepath.Join(t.TempDir(), "db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.CreateProject(t.Context(), baleen.Project{Name: "api", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return s
}

func ptr(f float64) *float64 { return &f }

// push records one build as the scheduler would: created, reported, then finished with status.
func push(t *testing.T, s *store.Store, commit string, status baleen.Status, cov *float64, cases ...baleen.TestCase) string {
	t.Helper()
	ctx := t.Context()
	b, err := s.CreateBuild(ctx, baleen.Build{Project: "api", Branch: "main", Commit: commit})
	if err != nil {
		t.Fatal(err)
	}
	r := &baleen.TestReport{Coverage: cov, Cases: cases}
	var out bytes.Buffer
	if err := history.Record(ctx, s, s, b, r, &out); err != nil {
		t.Fatalf("Record: %v", err)
	}
	if _, err := s.UpdateBuild(ctx, "api", b.Number, baleen.BuildPatch{Status: &status, Report: r}); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestRecordSequence(t *testing.T) {
	s := openStore(t)
	steps := []struct {
		commit string
		status baleen.Status
		cov    *float64
		cases  []baleen.TestCase
		want   string
	}{
		{"c1", baleen.StatusPassed, ptr(80), []baleen.TestCase{tc("a", P), tc("b", P)}, ""},
		{"c2", baleen.StatusFailed, ptr(70), []baleen.TestCase{tc("a", F), tc("b", P)},
			"new failure: a\ncoverage 70.0% (-10.0 since #1)\n"},
		{"c3", baleen.StatusFailed, nil, []baleen.TestCase{tc("a", F), tc("b", F)},
			"new failure: b\nfailing since #2: a\n"},
		{"c3", baleen.StatusPassed, ptr(81.3), []baleen.TestCase{tc("a", F), tc("b", P)},
			"failing since #2: a\nflaky (failed and passed on one commit): b\ncoverage 81.3% (+1.3 since #1)\n"},
		{"c4", baleen.StatusPassed, ptr(82), []baleen.TestCase{tc("a", P), tc("b", F)},
			"new failure: b (flaky)\nfixed: a\ncoverage 82.0% (+0.7 since #4)\n"},
	}
	for i, st := range steps {
		if got := push(t, s, st.commit, st.status, st.cov, st.cases...); got != st.want {
			t.Errorf("build #%d: got output\n%s\nwant\n%s", i+1, got, st.want)
		}
	}

	var out bytes.Buffer
	sel, err := history.Select(t.Context(), s, "api", history.TestsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := history.WriteTests(&out, sel); err != nil {
		t.Fatal(err)
	}
	want := `tests of api main: 2 cases in 5 runs (#1 to #5), newest outcome last
RECENT  LAST    TIME  TEST  NOTE
.FFF.   passed  1ms   a     fixed
..F.F   failed  1ms   b     new failure, flaky
`
	if got := out.String(); got != want {
		t.Errorf("Tests: got\n%s\nwant\n%s", got, want)
	}

	doc, err := history.Select(t.Context(), s, "api", history.TestsOptions{Filter: history.Flakies})
	if err != nil {
		t.Fatal(err)
	}
	if doc.Branch != "main" || len(doc.Cases) != 1 || doc.Cases[0].Name != "b" || !doc.Cases[0].Flaky || doc.Cases[0].Recent != "..F.F" {
		t.Errorf("flaky: got %+v, want only b, flaky, ..F.F", doc)
	}

	b3, err := s.Build(t.Context(), "api", 3)
	if err != nil {
		t.Fatal(err)
	}
	b3.Report.Failures = []baleen.TestFailure{{Name: "a", Message: "want 1\ngot 2"}, {Name: "b"}}
	out.Reset()
	if err := history.Failures(t.Context(), s, &out, b3); err != nil {
		t.Fatal(err)
	}
	want = "  FAIL a: want 1 (failing since #2)\n  FAIL b (new failure, flaky)\n"
	if got := out.String(); got != want {
		t.Errorf("Failures: got\n%s\nwant\n%s", got, want)
	}
}

func TestTestsFilters(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	for i, cases := range [][]baleen.TestCase{
		{{Name: "slow", Outcome: P, Duration: 3 * time.Second}, {Name: "fast", Outcome: P, Duration: time.Millisecond}, {Name: "old", Outcome: F}},
		{{Name: "slow", Outcome: F, Duration: 2 * time.Second}, {Name: "fast", Outcome: P, Duration: time.Millisecond}, {Name: "old", Outcome: F}},
	} {
		if err := s.RecordTests(ctx, baleen.TestRun{Project: "api", Number: i + 1, Branch: "main", Commit: "c" + string(rune('1'+i)), Cases: cases}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		filter history.Filter
		want   []string
	}{
		{history.All, []string{"fast", "old", "slow"}},
		{history.Failing, []string{"old", "slow"}}, // failing since #1 before failing since #2
		{history.Slowest, []string{"slow", "fast", "old"}},
		{history.Flakies, nil},
	}
	for _, tt := range tests {
		t.Run(string(tt.filter), func(t *testing.T) {
			doc, err := history.Select(ctx, s, "api", history.TestsOptions{Branch: "main", Filter: tt.filter})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range doc.Cases {
				got = append(got, c.Name)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("cases mismatch (-want +got):\n%s", diff)
			}
		})
	}
	sel, err := history.Select(ctx, s, "api", history.TestsOptions{Branch: "gone"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := history.WriteTests(&out, sel); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasPrefix(got, "no test history for api gone") {
		t.Errorf("unknown branch: got %q, want it to say there is no history", got)
	}
}
