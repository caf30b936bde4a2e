package api

import (
	"slices"
	"time"

	"github.com/baleen-ci/baleen"
)

// ms is d in whole milliseconds.
func ms(d time.Duration) int64 { return d.Milliseconds() }

// utc is t in UTC, zero kept zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// orEmpty is s, or an empty slice in place of nil, so that JSON says [] rather than null.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// NewProject is p with the state of its branches, from latest: a build per branch, newest first
// (LatestPerBranch gives them).
func NewProject(p baleen.Project, latest []baleen.Build) Project {
	j := Project{Name: p.Name, Created: utc(p.Created), Src: baleen.RedactURL(p.Src), Branches: []Build{}}
	for _, b := range latest {
		j.Branches = append(j.Branches, NewBuild(b))
	}
	return j
}

// BranchWindow is how many of a project's newest builds its branches' state is read from: a branch with
// no build among them is not shown.
const BranchWindow = 100

// LatestPerBranch keeps the newest build of each branch from bs (newest first), in that order. Builds of
// no branch (a tag or a commit rebuilt) count as one more branch, named "".
func LatestPerBranch(bs []baleen.Build) []baleen.Build {
	seen := map[string]bool{}
	var out []baleen.Build
	for _, b := range bs {
		if seen[b.Branch] {
			continue
		}
		seen[b.Branch] = true
		out = append(out, b)
	}
	return out
}

// NewBuild is b's shape.
func NewBuild(b baleen.Build) Build {
	j := Build{Project: b.Project, Number: b.Number, Status: b.Status, Commit: b.Commit, Branch: b.Branch, Pusher: b.Pusher, Signer: b.Signer,
		Created: utc(b.Created), Started: utc(b.Started), Finished: utc(b.Finished), Stages: NewStages(b.Stages),
		FailedStage: b.FailedStage, Message: b.Message, Report: NewTestReport(b.Report), Artifacts: orEmpty(b.Artifacts),
		Images: b.Images, Pushed: b.Pushed, Dependencies: b.Dependencies}
	if !b.Started.IsZero() && !b.Finished.IsZero() {
		j.DurationMS = ms(b.Finished.Sub(b.Started))
	}
	return j
}

// NewBuilds is the shape of each of bs, [] for none.
func NewBuilds(bs []baleen.Build) []Build { return each(bs, NewBuild) }

// each is f of every element of xs, [] for none.
func each[T, U any](xs []T, f func(T) U) []U {
	out := make([]U, 0, len(xs))
	for _, x := range xs {
		out = append(out, f(x))
	}
	return out
}

// NewStages is the shape of each stage result, [] for none.
func NewStages(ss []baleen.StageResult) []Stage {
	return each(ss, func(st baleen.StageResult) Stage {
		return Stage{Stage: st.Stage, Status: st.Status, DurationMS: ms(st.Duration), Message: st.Message}
	})
}

// NewTestReport is r's shape; nil for nil.
func NewTestReport(r *baleen.TestReport) *TestReport {
	if r == nil {
		return nil
	}
	return &TestReport{Passed: r.Passed, Failed: r.Failed, Skipped: r.Skipped, Failures: orEmpty(r.Failures),
		Coverage: r.Coverage, BranchCoverage: r.BranchCoverage, Warnings: r.Warnings}
}

// NewCoverage is the coverage of a build's report (r may be nil); html is the web path of its HTML report or "".
func NewCoverage(r *baleen.TestReport, html string) Coverage {
	c := Coverage{HTML: html}
	if r != nil {
		c.Percent, c.BranchPercent = r.Coverage, r.BranchCoverage
	}
	return c
}

// NewReport is `report --json` of b; note says why there is no test report when b.Report is nil.
func NewReport(b baleen.Build, note string) Report {
	j := Report{Project: b.Project, Number: b.Number, Status: b.Status, Commit: b.Commit, Report: NewTestReport(b.Report),
		Dependencies: orEmpty(b.Dependencies), Pushed: orEmpty(b.Pushed)}
	if b.Report == nil {
		j.Note = note
	}
	return j
}

// NewRelease is r's shape.
func NewRelease(r baleen.Release) Release {
	j := Release{Project: r.Project, Number: r.Number, Build: r.Build, Commit: r.Commit, Target: r.Target,
		Images: r.Images, Hosts: orEmpty(r.Hosts), Status: r.Status, Message: r.Message, Started: utc(r.Started),
		Finished: utc(r.Finished), By: r.By}
	if j.Images == nil {
		j.Images = map[string]string{}
	}
	if !r.Finished.IsZero() && !r.Started.IsZero() {
		j.DurationMS = ms(r.Finished.Sub(r.Started))
	}
	return j
}

// NewReleases is the shape of each of rs, [] for none.
func NewReleases(rs []baleen.Release) []Release { return each(rs, NewRelease) }

// NewDeliveries is the shape of each of ds, [] for none.
func NewDeliveries(ds []baleen.Delivery) []Delivery { return each(ds, NewDelivery) }

// NewTokens is the shape of each of ts, [] for none.
func NewTokens(ts []baleen.APIToken) []Token { return each(ts, NewToken) }

// NewDelivery is d's shape; Next only while it is pending.
func NewDelivery(d baleen.Delivery) Delivery {
	j := Delivery{ID: d.ID, Sink: d.Sink, Event: d.Event, Project: d.Project, Build: d.Build, Status: d.Status,
		Attempts: d.Attempts, Code: d.Code, Error: d.Error, Created: utc(d.Created), Last: utc(d.Last),
		Redelivers: d.Redelivers, Digest: d.Digest}
	if d.Status == baleen.DeliveryPending {
		j.Next = utc(d.Next)
	}
	return j
}

// NewToken is t's shape, without its hash.
func NewToken(t baleen.APIToken) Token {
	return Token{ID: t.ID, Owner: t.Identity.User, Fingerprint: t.Identity.Fingerprint, ReadOnly: t.ReadOnly,
		Created: utc(t.Created), Expires: utc(t.Expires)}
}

// NewEngine is an engine's shape; since is when it entered its state.
func NewEngine(name, host, state, reason string, labels []string, slots int, builds []baleen.BuildID, since time.Time) Engine {
	e := Engine{Name: name, Host: host, State: state, Reason: reason, Labels: orEmpty(slices.Clone(labels)), Slots: slots,
		InUse: len(builds), Builds: []string{}, Since: utc(since)}
	for _, b := range builds {
		e.Builds = append(e.Builds, string(b))
	}
	return e
}
