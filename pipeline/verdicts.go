package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/report"
	"github.com/baleen-ci/baleen/pipeline/report/history"
)

// requireTests fails a build whose artifacts.xunit paths are missing or hold no test case, unless
// artifacts.allow_no_tests says that is expected: a test command that ran nothing is no green build. A
// build already red (its tests failed, timed out or were cancelled) is not told so twice.
func (b *build) requireTests() error {
	a := b.Spec.Artifacts
	if len(a.XUnit) == 0 || a.AllowNoTests || b.stages.Failed() != "" {
		return nil
	}
	const hint = "; set artifacts.allow_no_tests: true in baleen.yml if no test is expected"
	for _, p := range a.XUnit {
		local := filepath.Join(b.ArtifactsDir, "xunit", filepath.Base(p))
		if _, err := os.Stat(local); err != nil {
			return fmt.Errorf("artifacts.xunit: %s does not exist in the test container, so no test ran as far as the reports tell%s", p, hint)
		}
		if report.Read([]string{local}, nil).Total() == 0 {
			return fmt.Errorf("artifacts.xunit: %s holds no test case: did the test command run any test?%s", p, hint)
		}
	}
	return nil
}

// testHistory returns the Report hook that keeps build b's test cases and writes how they compare with
// the history; nil when the scheduler keeps no history.
func (s *Scheduler) testHistory(ctx context.Context, b baleen.Build) func(io.Writer, *baleen.TestReport) {
	if s.cfg.Tests == nil {
		return nil
	}
	return func(w io.Writer, r *baleen.TestReport) {
		if err := history.Record(context.WithoutCancel(ctx), s.cfg.Tests, s.cfg.Builds, b, r, w); err != nil {
			s.log.Warn("test history", "project", b.Project, "build", b.Number, "err", err)
			fmt.Fprintf(w, "warning: test history: %v\n", err)
		}
	}
}
