package api

import (
	"time"

	"github.com/baleen-ci/baleen"
)

// Tests is the history of a project's tests on one branch: `tests --json`.
type Tests struct {
	Project string     `json:"project"`
	Branch  string     `json:"branch"`
	Cases   []TestCase `json:"cases"`
}

// TestCase is one test case with what the history says of it.
type TestCase struct {
	Name string `json:"name"`
	// Recent holds its outcomes in the runs shown, oldest first: '.' passed, 'F' failed, 's' skipped, ' '
	// did not run.
	Recent string `json:"recent"`
	// Last is the outcome of its newest run ("passed", "failed", "skipped"), Build that run's build and
	// DurationMS its time.
	Last       string `json:"last"`
	Build      int    `json:"build"`
	DurationMS int64  `json:"duration_ms"`
	// New says it fails now and did not before; FailingSince is the first build of its run of failures.
	New          bool `json:"new,omitempty"`
	FailingSince int  `json:"failing_since,omitempty"`
	Fixed        bool `json:"fixed,omitempty"`
	Flaky        bool `json:"flaky,omitempty"`
}

// LogLine is one line of a build's log with the stage it belongs to: `logs --json` writes one per line.
type LogLine struct {
	// Stage is the stage whose "==> stage" header came last; empty before the first.
	Stage string `json:"stage"`
	// N is the line's number in the log, from 1.
	N    int    `json:"n"`
	Text string `json:"text"`
}

// Engine is one Docker engine builds run on.
type Engine struct {
	Name   string   `json:"name"`
	Host   string   `json:"host"`
	State  string   `json:"state"`
	Reason string   `json:"reason,omitempty"`
	Labels []string `json:"labels"`
	Slots  int      `json:"slots"`
	InUse  int      `json:"in_use"`
	// Builds are the builds holding a slot, in the order they took it.
	Builds []string  `json:"builds"`
	Since  time.Time `json:"since,omitzero"`
}

// Delivery is one notification sent, or being sent, to a sink; the message itself is left out.
type Delivery struct {
	ID       int64                 `json:"id"`
	Sink     string                `json:"sink"`
	Event    string                `json:"event"`
	Project  string                `json:"project,omitempty"`
	Build    int                   `json:"build,omitempty"`
	Status   baleen.DeliveryStatus `json:"status"`
	Attempts int                   `json:"attempts"`
	Code     int                   `json:"code,omitempty"`
	Error    string                `json:"error,omitempty"`
	Created  time.Time             `json:"created"`
	Last     time.Time             `json:"last,omitzero"`
	// Next is when a pending delivery is tried again.
	Next       time.Time `json:"next,omitzero"`
	Redelivers int64     `json:"redelivers,omitempty"`
	Digest     int64     `json:"digest,omitempty"`
}

// Token is an API token, without its secret.
type Token struct {
	ID          string    `json:"id"`
	Owner       string    `json:"owner"`
	Fingerprint string    `json:"fingerprint"`
	ReadOnly    bool      `json:"read_only"`
	Created     time.Time `json:"created"`
	// Expires is left out for a token that never expires.
	Expires time.Time `json:"expires,omitzero"`
}
