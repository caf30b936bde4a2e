package baleen

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// TestReport is what the JUnit/xUnit and Cobertura reports of one build say.
type TestReport struct {
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
	// Failures lists each failed or errored test, in report order.
	Failures []TestFailure `json:"failures,omitempty"`
	// Coverage is the line coverage in percent, from the Cobertura reports; nil when there were none.
	Coverage *float64 `json:"coverage,omitempty"`
	// BranchCoverage is the branch coverage in percent, from the Cobertura reports that count branches; nil
	// when none did.
	BranchCoverage *float64 `json:"branch_coverage,omitempty"`
	// Warnings are problems met while reading the reports (a malformed file); they do not fail a build.
	Warnings []string `json:"warnings,omitempty"`
	// Cases lists every test case the reports name, in report order, for the test history. It is not kept
	// with the build record: the history keeps it compactly.
	Cases []TestCase `json:"-"`
}

// TestFailure is one failed test.
type TestFailure struct {
	// Name is "suite.class.test" as far as the report says.
	Name    string `json:"name"`
	Message string `json:"message,omitempty"`
	// Output is the failure's detail (a stack trace), possibly cut short.
	Output string `json:"output,omitempty"`
}

// Total is the number of tests the reports name.
func (r *TestReport) Total() int { return r.Passed + r.Failed + r.Skipped }

// Summary is the one-line form: "tests: 3 passed, 1 failed, 1 skipped — coverage 81.3%, branches 60.0%".
func (r *TestReport) Summary() string {
	var b strings.Builder
	if r.Total() > 0 {
		fmt.Fprintf(&b, "tests: %d passed, %d failed, %d skipped", r.Passed, r.Failed, r.Skipped)
	} else {
		b.WriteString("tests: no test reports")
	}
	if r.Coverage != nil {
		fmt.Fprintf(&b, " — coverage %.1f%%", *r.Coverage)
	}
	if r.BranchCoverage != nil {
		fmt.Fprintf(&b, ", branches %.1f%%", *r.BranchCoverage)
	}
	return b.String()
}

// TestOutcome is how one test case ended in one build.
type TestOutcome uint8

// The outcomes of a test case. A test that errored counts as failed; a disabled one as skipped.
const (
	TestPassed TestOutcome = iota + 1
	TestFailed
	TestSkipped
)

// String is the outcome in words: "passed", "failed", "skipped".
func (o TestOutcome) String() string {
	switch o {
	case TestPassed:
		return "passed"
	case TestFailed:
		return "failed"
	case TestSkipped:
		return "skipped"
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// TestCase is one test case of one build: its name as TestFailure names it, its outcome and how long it ran.
type TestCase struct {
	Name     string        `json:"name"`
	Outcome  TestOutcome   `json:"outcome"`
	Duration time.Duration `json:"duration"`
}

// TestRun is the test cases of one build, as the test history keeps them.
type TestRun struct {
	Project string `json:"project"`
	Number  int    `json:"number"`
	Branch  string `json:"branch"`
	Commit  string `json:"commit"`
	// Created is when the run was recorded.
	Created time.Time  `json:"created"`
	Cases   []TestCase `json:"cases"`
}

// TestHistory keeps the test cases of each build, per project, so that a build's failures can be told
// apart as new, lasting, fixed or flaky. Every method is safe for concurrent use.
type TestHistory interface {
	// RecordTests keeps the test cases of one build, replacing what was kept for that build before.
	// ErrInvalid for a bad project name or build number.
	RecordTests(ctx context.Context, run TestRun) error
	// TestRuns returns the runs kept for a project's branch (every branch when branch is ""), newest
	// first, at most limit of them (all when limit is 0). A project with none has an empty history.
	TestRuns(ctx context.Context, project, branch string, limit int) ([]TestRun, error)
	// DeleteTests forgets what was kept for one build, as the build is pruned; a build with nothing kept
	// is no error.
	DeleteTests(ctx context.Context, project string, number int) error
}
