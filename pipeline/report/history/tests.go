package history

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/baleen-ci/baleen"
)

// Filter picks the test cases the tests command lists.
type Filter string

// The filters of `tests`: every case, those failing in their latest run, the flaky ones, the slowest.
const (
	All     Filter = ""
	Failing Filter = "failing"
	Flakies Filter = "flaky"
	Slowest Filter = "slowest"
)

// TestsOptions are the options of the tests command.
type TestsOptions struct {
	// Branch is the branch whose runs are shown; the branch of the project's newest run when empty.
	Branch string
	Filter Filter
	// Runs is how many recent runs are shown per case; DefaultRuns when 0.
	Runs int
	// JSON asks for the api.Tests document instead of the table (--json); the command encodes it.
	JSON bool
}

// DefaultRuns is how many recent outcomes the tests command shows per case.
const DefaultRuns = 10

// MaxSlowest is how many cases the slowest filter lists.
const MaxSlowest = 20

// CaseHistory is one test case as the tests command lists it; its JSON shape is api.TestCase.
type CaseHistory struct {
	Status
	// Recent holds its outcomes in the runs shown, oldest first: '.' passed, 'F' failed, 's' skipped, ' '
	// did not run.
	Recent string
	// Last is the outcome of its newest run, and Duration that run's time.
	Last     string
	Duration time.Duration
	// Build is the build of its newest run.
	Build int
}

// Selection is what the tests command lists: the cases of one branch of a project, summed up over the
// branch's runs.
type Selection struct {
	Project string
	// Branch is the branch shown: the one asked for, or the branch of the project's newest run.
	Branch string
	// Runs are the branch's runs looked at, newest first; none when it has no history.
	Runs  []baleen.TestRun
	Cases []CaseHistory
}

// Select picks the test cases of project's branch with their recent outcomes and durations, as the ssh
// command `tests <project> [--branch B] [--failing|--flaky|--slowest]` lists them; o.JSON is the
// caller's to honour. An error is one of h.
func Select(ctx context.Context, h baleen.TestHistory, project string, o TestsOptions) (Selection, error) {
	all, err := h.TestRuns(ctx, project, "", Window)
	if err != nil {
		return Selection{}, err
	}
	branch := o.Branch
	if branch == "" && len(all) > 0 {
		branch = all[0].Branch
	}
	runs := slices.DeleteFunc(slices.Clone(all), func(r baleen.TestRun) bool { return r.Branch != branch })
	cases := filter(Cases(runs, all, cmp.Or(o.Runs, DefaultRuns)), o.Filter)
	return Selection{Project: project, Branch: branch, Runs: runs, Cases: cases}, nil
}

// WriteTests writes sel as the table of the tests command; a selection with no runs says there is no
// history.
func WriteTests(w io.Writer, sel Selection) error {
	runs := sel.Runs
	if len(runs) == 0 {
		_, err := fmt.Fprintf(w, "no test history for %s %s (set artifacts.xunit in baleen.yml)\n", sel.Project, refWord(sel.Branch))
		return err
	}
	fmt.Fprintf(w, "tests of %s %s: %d cases in %d runs (#%d to #%d), newest outcome last\n",
		sel.Project, refWord(sel.Branch), len(sel.Cases), len(runs), runs[len(runs)-1].Number, runs[0].Number)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RECENT\tLAST\tTIME\tTEST\tNOTE")
	for _, c := range sel.Cases {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Recent, c.Last, c.Duration.Round(time.Millisecond), c.Name, note(c.Status))
	}
	return tw.Flush()
}

func refWord(branch string) string {
	if branch == "" {
		return "(no branch)"
	}
	return branch
}

// note says what the history makes of a case: "failing since #3, flaky".
func note(s Status) string {
	var parts []string
	switch {
	case s.New:
		parts = append(parts, "new failure")
	case s.Since > 0:
		parts = append(parts, fmt.Sprintf("failing since #%d", s.Since))
	case s.Fixed:
		parts = append(parts, "fixed")
	}
	if s.Flaky {
		parts = append(parts, "flaky")
	}
	return strings.Join(parts, ", ")
}

// Cases sums up each case of runs (one branch's, newest first) over its newest n runs; all is every run of
// the project, for flakiness. Cases are in name order.
func Cases(runs, all []baleen.TestRun, n int) []CaseHistory {
	shown := runs[:min(n, len(runs))]
	var out []CaseHistory
	latest := map[string]int{} // index in out by name
	flaky := Flaky(all)
	for i, r := range runs {
		if !slices.ContainsFunc(r.Cases, func(c baleen.TestCase) bool { _, ok := latest[c.Name]; return !ok }) {
			continue // every case of r shows in a newer run
		}
		for _, s := range Compare(r, runs[i+1:]) {
			if _, ok := latest[s.Name]; ok {
				continue
			}
			s.Flaky = flaky[s.Name]
			latest[s.Name] = len(out)
			out = append(out, CaseHistory{Status: s, Last: s.Outcome.String(), Build: r.Number, Duration: duration(r, s.Name)})
		}
	}
	for i := range out {
		var b strings.Builder
		for j := len(shown) - 1; j >= 0; j-- {
			b.WriteByte(mark(outcome(shown[j]), out[i].Name))
		}
		out[i].Recent = b.String()
	}
	slices.SortFunc(out, func(a, b CaseHistory) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// duration is the time of name in r, the longest when it ran more than once.
func duration(r baleen.TestRun, name string) time.Duration {
	var d time.Duration
	for _, c := range r.Cases {
		if c.Name == name {
			d = max(d, c.Duration)
		}
	}
	return d
}

func mark(m map[string]baleen.TestOutcome, name string) byte {
	switch m[name] {
	case baleen.TestPassed:
		return '.'
	case baleen.TestFailed:
		return 'F'
	case baleen.TestSkipped:
		return 's'
	}
	return ' '
}

// filter keeps the cases f asks for, in the order it wants.
func filter(cases []CaseHistory, f Filter) []CaseHistory {
	switch f {
	case Failing:
		cases = slices.DeleteFunc(cases, func(c CaseHistory) bool { return c.Outcome != baleen.TestFailed })
		slices.SortStableFunc(cases, func(a, b CaseHistory) int { return cmp.Compare(since(a), since(b)) })
	case Flakies:
		cases = slices.DeleteFunc(cases, func(c CaseHistory) bool { return !c.Flaky })
	case Slowest:
		slices.SortStableFunc(cases, func(a, b CaseHistory) int { return cmp.Compare(b.Duration, a.Duration) })
		cases = cases[:min(MaxSlowest, len(cases))]
	}
	return cases
}

// since orders failing cases by how long they have failed: the oldest first.
func since(c CaseHistory) int {
	if c.Since > 0 {
		return c.Since
	}
	return c.Build
}

// Failures writes the failed tests of build b as the ssh command `report` lists them, each with what the
// history says of it: "  FAIL api.TestDiv: want 2, got 3 (failing since #3, flaky)".
func Failures(ctx context.Context, h baleen.TestHistory, w io.Writer, b baleen.Build) error {
	if b.Report == nil {
		return nil
	}
	notes := map[string]string{}
	if sts, err := OfBuild(ctx, h, b.Project, b.Number); err == nil {
		for name, s := range sts {
			notes[name] = note(s)
		}
	} else {
		defer fmt.Fprintf(w, "  (test history unavailable: %v)\n", err)
	}
	for _, f := range b.Report.Failures {
		fmt.Fprintf(w, "  FAIL %s", f.Name)
		if f.Message != "" {
			msg, _, _ := strings.Cut(strings.TrimSpace(f.Message), "\n")
			fmt.Fprintf(w, ": %s", msg)
		}
		if n := notes[f.Name]; n != "" {
			fmt.Fprintf(w, " (%s)", n)
		}
		fmt.Fprintln(w)
	}
	return nil
}
