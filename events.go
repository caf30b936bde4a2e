package baleen

import (
	"context"
	"time"
)

// EventKind names what an Event tells.
type EventKind string

// The kinds of build and release events, in the order a build publishes them: queued, started, then per
// stage started, log lines and finished, a test summary after the tests' reports are read, and finished.
// A release publishes started, one host event per host it switched (or returned), and finished.
const (
	EventBuildQueued     EventKind = "build_queued"
	EventBuildStarted    EventKind = "build_started"
	EventStageStarted    EventKind = "stage_started"
	EventStageFinished   EventKind = "stage_finished"
	EventLog             EventKind = "log"
	EventTestSummary     EventKind = "test_summary"
	EventBuildFinished   EventKind = "build_finished"
	EventReleaseStarted  EventKind = "release_started"
	EventHostSwitched    EventKind = "host_switched"
	EventReleaseFinished EventKind = "release_finished"
	// EventLagged is sent to a subscriber in place of the events it fell too far behind to receive. Its
	// Dropped counts them; a log reader resumes from the stored log (BuildStore.Log) at the offset of the
	// last line it had.
	EventLagged EventKind = "lagged"
)

// Event is one thing that happened to a build or a release, published once by the server and read by every
// subscriber: the push output, `logs -f`, the web pages, notifications and metrics. Fields that do not
// belong to an event's Kind are zero. Secrets are masked before an event is made.
type Event struct {
	// Seq orders the events of one publisher, from 1; a gap a subscriber sees is announced by EventLagged.
	Seq     uint64    `json:"seq"`
	Kind    EventKind `json:"kind"`
	Time    time.Time `json:"time"`
	Project string    `json:"project"`
	// Build is the build's number; for release events, the build the release deploys.
	Build int `json:"build,omitempty"`
	// Stage is set on stage events.
	Stage Stage `json:"stage,omitempty"`
	// Status is the stage's status on EventStageFinished, the build's on EventBuildFinished, a host's on
	// EventHostSwitched and the release's on EventReleaseFinished.
	Status Status `json:"status,omitempty"`
	// Duration is the stage's or the build's, on the finished events.
	Duration time.Duration `json:"-"`
	// Text is one line of build output without its newline (EventLog), or a stage's or build's message.
	Text string `json:"text,omitempty"`
	// Offset is, on EventLog, the byte offset in the stored log where the line starts.
	Offset int64 `json:"offset,omitempty"`
	// Record is the build's record as it stands, on the build events (queued, started, finished).
	Record *Build `json:"record,omitempty"`
	// Report is the reports' summary on EventTestSummary.
	Report *TestReport `json:"report,omitempty"`
	// Release is the release's record on release events; Host names the host on EventHostSwitched.
	Release *Release `json:"release,omitempty"`
	Host    string   `json:"host,omitempty"`
	// Dropped counts the events a lagging subscriber missed (EventLagged).
	Dropped int `json:"dropped,omitempty"`
}

// EventFilter narrows a subscription; a zero field matches everything.
type EventFilter struct {
	Project string
	// Build keeps one build's events (with Project).
	Build int
	// Kinds keeps only these kinds (EventLagged is always delivered).
	Kinds []EventKind
}

// Match reports whether e passes f.
func (f EventFilter) Match(e Event) bool {
	if e.Kind == EventLagged {
		return true
	}
	if f.Project != "" && e.Project != f.Project {
		return false
	}
	if f.Build != 0 && e.Build != f.Build {
		return false
	}
	if len(f.Kinds) == 0 {
		return true
	}
	for _, k := range f.Kinds {
		if k == e.Kind {
			return true
		}
	}
	return false
}

// EventPublisher takes the events of builds and releases. Publish never blocks on a subscriber: it is
// called from the build itself.
type EventPublisher interface {
	Publish(e Event)
}

// EventSource hands out the events published from now on. The channel is closed when ctx ends or the
// source shuts down. A subscriber that falls behind its buffer is sent EventLagged in place of what it
// missed, and is never waited for.
type EventSource interface {
	Subscribe(ctx context.Context, f EventFilter) <-chan Event
}
