package baleen

import (
	"fmt"
	"strings"
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
	// Warnings are problems met while reading the reports (a malformed file); they do not fail a build.
	Warnings []string `json:"warnings,omitempty"`
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

// Summary is the one-line form: "tests: 3 passed, 1 failed, 1 skipped — coverage 81.3%".
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
	return b.String()
}
