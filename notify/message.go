package notify

import (
	"strings"
	"time"
)

// Version is the version of the webhook body. It changes only when a field changes meaning or goes away;
// new fields may appear within a version.
const Version = 1

// Message is one notification in the form every sink renders, and the JSON body of a webhook delivery
// (docs/notify.md has its schema). A digest carries its notifications in Digest.
type Message struct {
	Version int       `json:"version"`
	Event   string    `json:"event"`
	Time    time.Time `json:"time"`
	Project string    `json:"project,omitempty"`
	Build   int       `json:"build,omitempty"`
	Commit  string    `json:"commit,omitempty"`
	Branch  string    `json:"branch,omitempty"`
	Pusher  string    `json:"pusher,omitempty"`
	// Verdict is the build's or the release's final status.
	Verdict string `json:"verdict,omitempty"`
	// Reason says why a build or release failed.
	Reason      string `json:"reason,omitempty"`
	FailedStage string `json:"failed_stage,omitempty"`
	// FailingFor counts the failed builds in a row on the branch, this one included (failed, still_failing).
	FailingFor int `json:"failing_for,omitempty"`
	// FixedAfter is the number of the last failed build before a fixed one.
	FixedAfter   int           `json:"fixed_after,omitempty"`
	Tests        *Tests        `json:"tests,omitempty"`
	FailingTests []FailingTest `json:"failing_tests,omitempty"`
	// Coverage is the line coverage in percent; CoverageDelta its change from the previous build on the
	// branch that had coverage.
	Coverage      *float64 `json:"coverage,omitempty"`
	CoverageDelta *float64 `json:"coverage_delta,omitempty"`
	Release       *Release `json:"release,omitempty"`
	Links         *Links   `json:"links,omitempty"`
	// LogTail holds the last lines of the build log of a failed build (e-mail only; not in the webhook).
	LogTail []string `json:"-"`
	// Authors are the commit authors' addresses, for the e-mail sink (not in the webhook).
	Authors []string `json:"-"`
	// Digest lists the notifications a digest delivery carries.
	Digest []Message `json:"digest,omitempty"`
}

// stored is how a Message is kept in the delivery store: with the fields the webhook body leaves out.
type stored struct {
	Message
	LogTail []string `json:"log_tail,omitempty"`
	Authors []string `json:"authors,omitempty"`
}

// Tests counts the build's tests.
type Tests struct {
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
}

// FailingTest is one failed test; Since is the number of the first build of the current run of failures in
// which it failed.
type FailingTest struct {
	Name    string `json:"name"`
	Message string `json:"message,omitempty"`
	Since   int    `json:"since"`
}

// Release is the release a release event tells of.
type Release struct {
	Number  int    `json:"number"`
	Target  string `json:"target"`
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
	// RolledBack lists the hosts that were returned to the previous release.
	RolledBack []string `json:"rolled_back,omitempty"`
}

// Links point at the web pages, when the web listener is on.
type Links struct {
	Build string `json:"build,omitempty"`
	Log   string `json:"log,omitempty"`
}

// Title is the one-line form of m, for chat and mail subjects: "shop-api#12 failed on main (test)".
func (m *Message) Title() string {
	switch m.Event {
	case EventDigest:
		return digestTitle(m)
	case EventReleaseDone, EventReleaseFailed, EventReleaseRolledBack:
		r := m.Release
		s := fmtf("%s release %d of build #%d to %s: %s", m.Project, r.Number, m.Build, r.Target, words(m.Event))
		if m.Reason != "" {
			s += " (" + oneLine(m.Reason) + ")"
		}
		return s
	}
	s := fmtf("%s#%d %s on %s", m.Project, m.Build, words(m.Event), m.Branch)
	switch {
	case m.Event == EventStillFailing || m.Event == EventFailed && m.FailingFor > 1:
		s += fmtf(", %d builds in a row", m.FailingFor)
	case m.Event == EventFixed && m.FixedAfter > 0:
		s += fmtf(" after #%d", m.FixedAfter)
	}
	if m.FailedStage != "" {
		s += " (" + m.FailedStage + ")"
	}
	return s
}

// oneLine is the first line of s, with " …" when more follow: a title is one line in a chat and a subject.
func oneLine(s string) string {
	first, rest, more := strings.Cut(s, "\n")
	first = strings.TrimRight(first, "\r")
	if more && strings.TrimSpace(rest) != "" {
		first += " …"
	}
	return first
}

func words(event string) string {
	switch event {
	case EventStillFailing:
		return "still failing"
	case EventReleaseDone:
		return "done"
	case EventReleaseFailed:
		return "failed"
	case EventReleaseRolledBack:
		return "rolled back"
	}
	return event
}

func digestTitle(m *Message) string {
	failed := 0
	for _, d := range m.Digest {
		if d.Verdict != "passed" {
			failed++
		}
	}
	return fmtf("%d notifications (%d not passed)", len(m.Digest), failed)
}
