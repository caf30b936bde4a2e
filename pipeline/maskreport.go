package pipeline

import "github.com/baleen-ci/baleen"

// maskReport masks every secret in what a test report quotes from the test container: the failed tests'
// names, messages and output, the warnings, and the names of the cases the test history keeps. The report
// is stored with the build and shown by `ssh HOST report`, the web and the test history: masked once here,
// it is masked everywhere.
func maskReport(r *baleen.TestReport, mask func(string) string) {
	for i, f := range r.Failures {
		r.Failures[i].Name, r.Failures[i].Message, r.Failures[i].Output = mask(f.Name), mask(f.Message), mask(f.Output)
	}
	for i, w := range r.Warnings {
		r.Warnings[i] = mask(w)
	}
	for i, c := range r.Cases {
		r.Cases[i].Name = mask(c.Name)
	}
}
