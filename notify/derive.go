package notify

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/baleen-ci/baleen"
)

// History reads the build records notifications are derived from; store.Store implements it.
type History interface {
	// Builds lists builds, newest first.
	Builds(ctx context.Context, f baleen.BuildFilter) ([]baleen.Build, error)
	// Log returns a reader of a build's log from byte offset on.
	Log(ctx context.Context, project string, number int, offset int64) (io.ReadCloser, error)
}

// Authors reads who wrote the commits a push brought; GitAuthors implements it.
type Authors interface {
	// Authors returns the e-mail addresses of the authors of the commits reachable from commit and not
	// from since (commit's alone when since is empty or unknown), each once.
	Authors(ctx context.Context, project, commit, since string) ([]string, error)
}

// historyDepth is how many earlier builds of a project are read to find the branch's previous ones.
const historyDepth = 200

// logTailLines is how many of a failed build's last log lines a mail carries.
const logTailLines = 30

// facts is what a finished build or release says before a sink picks its event.
type facts struct {
	msg Message
	// candidates are the events it can be sent as, most specific first; for a failed build, the run of
	// failures decides between failed and still_failing per sink.
	candidates []string
	failRun    int
	// since is the commit of the previous build on the branch, for the commit authors.
	since string
}

// event picks the event s sends for f, or "" when s takes none of it.
func (s *Sink) event(f *facts) string {
	if f.failRun > 0 {
		if f.failRun == 1 {
			return pick(s.Events, EventFailed)
		}
		if (f.failRun-1)%s.StillFailingEvery == 0 {
			return pick(s.Events, EventStillFailing)
		}
		return ""
	}
	return pick(s.Events, f.candidates...)
}

func pick(want []string, candidates ...string) string {
	for _, c := range candidates {
		if slices.Contains(want, c) {
			return c
		}
	}
	return ""
}

// buildFacts derives the facts of a finished build from its record and the previous builds on its branch.
// Cancelled and interrupted builds tell nothing.
func buildFacts(ctx context.Context, h History, b *baleen.Build) (*facts, error) {
	if b.Status != baleen.StatusPassed && b.Status != baleen.StatusFailed {
		return nil, nil
	}
	all, err := h.Builds(ctx, baleen.BuildFilter{Project: b.Project, Limit: historyDepth})
	if err != nil {
		return nil, fmt.Errorf("read history of %s: %w", b.Project, err)
	}
	var prev []baleen.Build // the branch's earlier verdicts, newest first
	for _, p := range all {
		if p.Number < b.Number && p.Branch == b.Branch && (p.Status == baleen.StatusPassed || p.Status == baleen.StatusFailed) {
			prev = append(prev, p)
		}
	}
	f := &facts{msg: buildMessage(b)}
	if len(prev) > 0 {
		f.since = prev[0].Commit
	}
	if b.Status == baleen.StatusPassed {
		f.candidates = []string{EventPassed}
		if len(prev) > 0 && prev[0].Status == baleen.StatusFailed {
			f.candidates = []string{EventFixed, EventPassed}
			f.msg.FixedAfter = prev[0].Number
		}
	} else {
		f.failRun = 1
		for _, p := range prev {
			if p.Status != baleen.StatusFailed {
				break
			}
			f.failRun++
		}
		f.msg.FailingFor = f.failRun
		f.msg.FailingTests = failingTests(b, prev[:f.failRun-1])
	}
	for _, p := range prev {
		if p.Report != nil && p.Report.Coverage != nil && f.msg.Coverage != nil {
			d := *f.msg.Coverage - *p.Report.Coverage
			f.msg.CoverageDelta = &d
			break
		}
	}
	return f, nil
}

func buildMessage(b *baleen.Build) Message {
	m := Message{
		Version: Version, Time: b.Finished, Project: b.Project, Build: b.Number, Commit: b.Commit,
		Branch: b.Branch, Pusher: b.Pusher, Verdict: string(b.Status), FailedStage: string(b.FailedStage),
	}
	if b.Status == baleen.StatusFailed {
		m.Reason = b.Message
	}
	if r := b.Report; r != nil {
		if r.Total() > 0 {
			m.Tests = &Tests{Passed: r.Passed, Failed: r.Failed, Skipped: r.Skipped}
		}
		m.Coverage = r.Coverage
	}
	return m
}

// failingTests lists b's failed tests with the first build of the run of failures (run, newest first) from
// which each has failed without a break.
func failingTests(b *baleen.Build, run []baleen.Build) []FailingTest {
	if b.Report == nil {
		return nil
	}
	var out []FailingTest
	for _, t := range b.Report.Failures {
		since := b.Number
		for _, p := range run {
			if p.Report == nil || !slices.ContainsFunc(p.Report.Failures, func(f baleen.TestFailure) bool { return f.Name == t.Name }) {
				break
			}
			since = p.Number
		}
		out = append(out, FailingTest{Name: t.Name, Message: t.Message, Since: since})
	}
	return out
}

// releaseFacts derives the facts of a finished release.
func releaseFacts(r *baleen.Release) *facts {
	m := Message{
		Version: Version, Time: r.Finished, Project: r.Project, Build: r.Build, Commit: r.Commit,
		Pusher: r.By, Verdict: string(r.Status),
		Release: &Release{Number: r.Number, Target: r.Target, Status: string(r.Status), Message: r.Message},
	}
	f := &facts{msg: m}
	if r.Status == baleen.StatusPassed {
		f.candidates = []string{EventReleaseDone}
		return f
	}
	f.msg.Reason = r.Message
	for _, h := range r.Hosts {
		if h.Status == baleen.StatusFailed {
			m.Release.RolledBack = append(m.Release.RolledBack, h.Host)
		}
	}
	f.msg.Release = m.Release
	f.candidates = []string{EventReleaseFailed}
	if len(m.Release.RolledBack) > 0 {
		f.candidates = []string{EventReleaseRolledBack, EventReleaseFailed}
	}
	return f
}

// logTail returns the last n lines of a build's log.
func logTail(ctx context.Context, h History, project string, build, n int) ([]string, error) {
	rc, err := h.Log(ctx, project, build, 0)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var lines []string
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 2*n {
			lines = slices.Delete(lines, 0, len(lines)-n)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines, sc.Err()
}
