package history

import (
	"github.com/baleen-ci/baleen"
)

// Window is how many earlier runs of a project the comparisons look at.
const Window = 200

// Status is what the history says of one test case in one run.
type Status struct {
	Name    string
	Outcome baleen.TestOutcome
	// New: it fails in this run and did not in the run before that ran it.
	New bool
	// Since is the first build of the run of failures this one ends, when it failed before too.
	Since int
	// Fixed: it passes in this run and failed in the run before that ran it.
	Fixed bool
	// Flaky: it both failed and passed on one commit, in the runs looked at.
	Flaky bool
}

// outcome merges the entries of one name in one run: failed when any failed, else passed when any passed.
func outcome(run baleen.TestRun) map[string]baleen.TestOutcome {
	m := make(map[string]baleen.TestOutcome, len(run.Cases))
	for _, c := range run.Cases {
		if old, ok := m[c.Name]; !ok || rank(c.Outcome) > rank(old) {
			m[c.Name] = c.Outcome
		}
	}
	return m
}

func rank(o baleen.TestOutcome) int {
	switch o {
	case baleen.TestFailed:
		return 3
	case baleen.TestPassed:
		return 2
	}
	return 1
}

// Compare says what the history makes of each case of cur. earlier holds the runs before it, newest first;
// the streaks (new, since, fixed) follow only the runs of cur's branch, while flakiness is judged over every
// run of cur's commit. A case that did not run in a build (or the build kept no report) is passed over,
// not counted as a pass. The result follows cur's case order, each name once.
func Compare(cur baleen.TestRun, earlier []baleen.TestRun) []Status {
	now := outcome(cur)
	var branch []map[string]baleen.TestOutcome
	var numbers []int
	for _, r := range earlier {
		if r.Branch == cur.Branch && r.Number < cur.Number {
			branch = append(branch, outcome(r))
			numbers = append(numbers, r.Number)
		}
	}
	flaky := Flaky(append([]baleen.TestRun{cur}, earlier...))
	var out []Status
	seen := map[string]bool{}
	for _, c := range cur.Cases {
		if seen[c.Name] {
			continue
		}
		seen[c.Name] = true
		st := Status{Name: c.Name, Outcome: now[c.Name], Flaky: flaky[c.Name]}
		prev, since := streak(c.Name, branch, numbers)
		switch {
		case st.Outcome == baleen.TestFailed && prev == baleen.TestFailed:
			st.Since = since
		case st.Outcome == baleen.TestFailed:
			st.New = true
		case st.Outcome == baleen.TestPassed && prev == baleen.TestFailed:
			st.Fixed = true
		}
		out = append(out, st)
	}
	return out
}

// streak returns the outcome of name in the newest earlier run that ran it and, when that was a failure,
// the number of the first build of the unbroken run of failures it belongs to.
func streak(name string, runs []map[string]baleen.TestOutcome, numbers []int) (baleen.TestOutcome, int) {
	var first baleen.TestOutcome
	since := 0
	for i, r := range runs {
		o, ok := r[name]
		if !ok || o == baleen.TestSkipped {
			continue
		}
		if first == 0 {
			first = o
		}
		if o != baleen.TestFailed || first != baleen.TestFailed {
			break
		}
		since = numbers[i]
	}
	return first, since
}

// Flaky returns the names that both failed and passed on one commit in runs: a rebuild that passed where
// the first try failed, or the other way round.
func Flaky(runs []baleen.TestRun) map[string]bool {
	type seen struct{ failed, passed bool }
	byCommit := map[string]map[string]*seen{}
	flaky := map[string]bool{}
	for _, r := range runs {
		m := byCommit[r.Commit]
		if m == nil {
			m = map[string]*seen{}
			byCommit[r.Commit] = m
		}
		for name, o := range outcome(r) {
			s := m[name]
			if s == nil {
				s = &seen{}
				m[name] = s
			}
			s.failed = s.failed || o == baleen.TestFailed
			s.passed = s.passed || o == baleen.TestPassed
			if s.failed && s.passed {
				flaky[name] = true
			}
		}
	}
	return flaky
}
