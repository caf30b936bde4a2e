package report

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/baleen-ci/baleen"
)

// The reports under testdata/real were written by the tools themselves (scripts/report-samples.sh).

func TestRealJUnit(t *testing.T) {
	tests := []struct {
		file                    string
		passed, failed, skipped int
		failures                []string
	}{
		// pytest: a parametrised case fails, a fixture errors on setup, one is skipped.
		{"pytest.xml", 3, 2, 1, []string{"tests.test_calc.test_sign[0-1]", "tests.test_calc.test_query"}},
		// go test -json through go-junit-report: subtests are cases of their own.
		{"go-junit-report.xml", 4, 1, 1, []string{"example.com/calc.TestDiv"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := Read([]string{filepath.Join("testdata", "real", tt.file)}, nil)
			if got.Passed != tt.passed || got.Failed != tt.failed || got.Skipped != tt.skipped {
				t.Errorf("got %d passed, %d failed, %d skipped; want %d, %d, %d", got.Passed, got.Failed, got.Skipped, tt.passed, tt.failed, tt.skipped)
			}
			var names []string
			for _, f := range got.Failures {
				names = append(names, f.Name)
			}
			if diff := cmp.Diff(tt.failures, names); diff != "" {
				t.Errorf("failures mismatch (-want +got):\n%s", diff)
			}
			if len(got.Cases) != got.Total() || len(got.Warnings) != 0 {
				t.Errorf("got %d cases and warnings %q, want %d cases and no warning", len(got.Cases), got.Warnings, got.Total())
			}
		})
	}
}

func TestRealCobertura(t *testing.T) {
	tests := []struct {
		file string
		want Counts
	}{
		{"coverage-py.xml", Counts{LinesCovered: 10, LinesValid: 12, BranchesCovered: 5, BranchesValid: 6}},
		{"gcovr.xml", Counts{LinesCovered: 11, LinesValid: 16, BranchesCovered: 3, BranchesValid: 8}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", "real", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := Cobertura(f)
			if err != nil {
				t.Fatalf("Cobertura: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("counts mismatch (-want +got):\n%s", diff)
			}
			// The figure the tool printed on its own (a whole percent) is the figure shown, to within its rounding.
			b, err := os.ReadFile(filepath.Join("testdata", "real", strings.TrimSuffix(tt.file, ".xml")+".expected"))
			if err != nil {
				t.Fatal(err)
			}
			printed, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(string(b)), "%"), 64)
			if err != nil {
				t.Fatal(err)
			}
			r := Read(nil, []string{f.Name()})
			if r.Coverage == nil || math.Abs(*r.Coverage-printed) >= 1 {
				t.Errorf("coverage: got %v, want within 1 of the tool's %v%%", r.Coverage, printed)
			}
			if r.BranchCoverage == nil {
				t.Errorf("branch coverage: got nil, want %d of %d", tt.want.BranchesCovered, tt.want.BranchesValid)
			}
		})
	}
}

func TestReadBranchCoverage(t *testing.T) {
	dir := t.TempDir()
	a := write(t, dir, "a.xml", `<coverage lines-covered="1" lines-valid="2" branches-covered="1" branches-valid="4"/>`)
	b := write(t, dir, "b.xml", `<coverage lines-covered="3" lines-valid="6" branches-covered="5" branches-valid="6"/>`)
	none := write(t, dir, "none.xml", `<coverage lines-covered="1" lines-valid="2" branch-rate="0"/>`)
	tests := []struct {
		name  string
		paths []string
		want  *float64
	}{
		{"summed, not averaged", []string{a, b}, ptr(60)},
		{"a file without branches adds none", []string{a, none}, ptr(25)},
		{"no file counts branches", []string{none}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Read(nil, tt.paths)
			if diff := cmp.Diff(tt.want, got.BranchCoverage); diff != "" {
				t.Errorf("BranchCoverage mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if s := (&baleen.TestReport{Coverage: ptr(75), BranchCoverage: ptr(60)}).Summary(); s != "tests: no test reports — coverage 75.0%, branches 60.0%" {
		t.Errorf("Summary: got %q", s)
	}
}
