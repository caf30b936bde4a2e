package history

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/baleen-ci/baleen"
)

// MaxListed caps the test cases listed under each heading of the push output.
const MaxListed = 20

// Record keeps the test cases of build b, which r reports, in h, and writes under the test summary how
// they compare with the history of b's branch, and how coverage moved since the branch's previous green
// build in builds:
//
//	new failure: api.TestDiv
//	failing since #3: api.TestParse (flaky)
//	fixed: api.TestAdd
//	flaky (failed and passed on one commit): api.TestRace
//	coverage 81.3% (+0.6 since #11)
//
// Nothing is written when there is nothing to say. An error means the history could not be read or kept;
// the build goes on without it.
func Record(ctx context.Context, h baleen.TestHistory, builds baleen.BuildStore, b baleen.Build, r *baleen.TestReport, w io.Writer) error {
	if r == nil {
		return nil
	}
	cur := baleen.TestRun{Project: b.Project, Number: b.Number, Branch: b.Branch, Commit: b.Commit, Created: time.Now().UTC(), Cases: r.Cases}
	var werr error
	if len(cur.Cases) > 0 {
		earlier, err := h.TestRuns(ctx, b.Project, "", Window)
		if err != nil {
			return fmt.Errorf("read test history: %w", err)
		}
		if err := h.RecordTests(ctx, cur); err != nil {
			werr = fmt.Errorf("keep test history: %w", err)
		}
		writeChanges(w, Compare(cur, earlier))
	}
	if r.Coverage != nil && builds != nil {
		prev, err := previousGreen(ctx, builds, b)
		if err != nil {
			return fmt.Errorf("find the previous green build: %w", err)
		}
		if prev != nil {
			fmt.Fprintln(w, CoverageDelta(*r.Coverage, *prev.Report.Coverage, prev.Number))
		}
	}
	return werr
}

// CoverageDelta is "coverage 81.3% (+0.6 since #11)".
func CoverageDelta(now, before float64, since int) string {
	return fmt.Sprintf("coverage %.1f%% (%+.1f since #%d)", now, now-before, since)
}

// previousGreen returns the newest passed build of b's branch before b that measured coverage, or nil.
func previousGreen(ctx context.Context, builds baleen.BuildStore, b baleen.Build) (*baleen.Build, error) {
	passed, err := builds.Builds(ctx, baleen.BuildFilter{Project: b.Project, Statuses: []baleen.Status{baleen.StatusPassed}, Limit: Window})
	if err != nil {
		return nil, err
	}
	for _, p := range passed {
		if p.Branch == b.Branch && p.Number < b.Number && p.Report != nil && p.Report.Coverage != nil {
			return &p, nil
		}
	}
	return nil, nil
}

// writeChanges lists the new failures, the lasting ones and the fixed tests, each under its heading.
func writeChanges(w io.Writer, sts []Status) {
	var news, lasting, fixed, flaky []Status
	for _, s := range sts {
		switch {
		case s.New:
			news = append(news, s)
		case s.Since > 0:
			lasting = append(lasting, s)
		case s.Fixed && s.Flaky:
			// Failed, then passed: most likely on a rebuild of the same commit.
			s.Flaky = false
			flaky = append(flaky, s)
		case s.Fixed:
			fixed = append(fixed, s)
		}
	}
	list(w, "new failure", news)
	list(w, "failing since", lasting)
	list(w, "fixed", fixed)
	list(w, "flaky (failed and passed on one commit)", flaky)
}

// list writes one line per status under a heading, at most MaxListed of them.
func list(w io.Writer, heading string, sts []Status) {
	for i, s := range sts {
		if i == MaxListed {
			fmt.Fprintf(w, "%s: ... and %d more\n", heading, len(sts)-i)
			return
		}
		fmt.Fprintln(w, line(heading, s))
	}
}

// line is one status under its heading: "failing since #3: api.TestParse (flaky)".
func line(heading string, s Status) string {
	l := heading + ": " + s.Name
	if s.Since > 0 {
		l = fmt.Sprintf("%s #%d: %s", heading, s.Since, s.Name)
	}
	if s.Flaky {
		l += " (flaky)"
	}
	return l
}
