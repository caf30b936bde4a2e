package pipeline_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/events"
	"github.com/baleen-ci/baleen/pipeline"
)

// collect gathers the events of one subscription until build_finished.
func collect(t *testing.T, ch <-chan baleen.Event) []baleen.Event {
	t.Helper()
	var got []baleen.Event
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				return got
			}
			got = append(got, e)
			if e.Kind == baleen.EventBuildFinished {
				return got
			}
		case <-timeout:
			t.Fatalf("gave up waiting for build_finished; got %d events", len(got))
		}
	}
}

func TestSchedulerEventOrder(t *testing.T) {
	sv := newServer(t, nil)
	sv.commit("app", "c1", appSpec)
	ch := sv.bus.Subscribe(t.Context(), baleen.EventFilter{Project: "app"})
	sv.run("app", "c1", io.Discard)
	got := collect(t, ch)

	var kinds []string
	for _, e := range got {
		switch e.Kind {
		case baleen.EventLog:
		case baleen.EventStageStarted, baleen.EventStageFinished:
			kinds = append(kinds, string(e.Kind)+" "+string(e.Stage))
		default:
			kinds = append(kinds, string(e.Kind))
		}
	}
	want := []string{"build_queued", "build_started"}
	for _, s := range []string{"config", "build", "depends", "test", "artifacts", "tag"} {
		want = append(want, "stage_started "+s, "stage_finished "+s)
	}
	want = append(want, "build_finished")
	if !equal(kinds, want) {
		t.Errorf("events:\ngot  %v\nwant %v", kinds, want)
	}
	last := got[len(got)-1]
	if last.Status != baleen.StatusPassed || last.Record == nil || last.Record.Status != baleen.StatusPassed {
		t.Errorf("build_finished: got status %s, record %+v; want passed", last.Status, last.Record)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq {
			t.Errorf("event %d: seq %d after %d, want increasing", i, got[i].Seq, got[i-1].Seq)
		}
	}
}

// Each log event is a line of the stored log, at the offset it says.
func TestSchedulerLogEventsMatchStoredLog(t *testing.T) {
	sv := newServer(t, nil)
	sv.commit("app", "c1", appSpec)
	ch := sv.bus.Subscribe(t.Context(), baleen.EventFilter{Project: "app", Kinds: []baleen.EventKind{baleen.EventLog, baleen.EventBuildFinished}})
	sv.run("app", "c1", io.Discard)
	got := collect(t, ch)
	stored := storedLog(t, sv, "app", 1)
	var rebuilt bytes.Buffer
	for _, e := range got {
		if e.Kind != baleen.EventLog {
			continue
		}
		if e.Offset != int64(rebuilt.Len()) {
			t.Fatalf("log event %q at offset %d, want %d", e.Text, e.Offset, rebuilt.Len())
		}
		rebuilt.WriteString(e.Text + "\n")
	}
	if rebuilt.String() != stored {
		t.Errorf("log events:\n%s\nstored log:\n%s", rebuilt.String(), stored)
	}
}

// A subscriber that never reads does not stall a build: it is told it lagged.
func TestSchedulerSlowSubscriber(t *testing.T) {
	bus := events.New(2)
	sv := newServer(t, func(c *pipeline.SchedulerConfig) { c.Events = bus })
	sv.bus = bus
	sv.commit("app", "c1", appSpec)
	slow := bus.Subscribe(t.Context(), baleen.EventFilter{})
	if b := sv.run("app", "c1", io.Discard); b.Status != baleen.StatusPassed {
		t.Fatalf("got %s, want passed", b.Status)
	}
	<-slow
	<-slow
	// The next event published tells it how many it missed.
	bus.Publish(baleen.Event{Kind: baleen.EventLog, Project: "other"})
	e := <-slow
	if e.Kind != baleen.EventLagged || e.Dropped == 0 {
		t.Errorf("third event of a subscriber that fell behind: got %s (dropped %d), want lagged", e.Kind, e.Dropped)
	}
}

// `logs -f` that falls behind the events resumes from the stored log: what it writes is the whole log.
func TestFollowResumesFromStoredLog(t *testing.T) {
	bus := events.New(1)
	g := newGate()
	sv := newServer(t, func(c *pipeline.SchedulerConfig) { c.Events = bus })
	sv.eng.Test = func(ctx context.Context, id baleen.BuildID, c baleen.ContainerSpec, out io.Writer) (int, error) {
		for i := range 200 {
			io.WriteString(out, strings.Repeat("x", i%7)+" line\n")
		}
		return g.test(ctx, id, c, out)
	}
	sv.commit("app", "c1", appSpec)
	done := sv.start("app", "c1", io.Discard)
	g.waitStarted(t)
	var followed bytes.Buffer
	followErr := make(chan error, 1)
	go func() {
		_, err := sv.s.Follow(context.Background(), "app", 1, slowWriter{&followed})
		followErr <- err
	}()
	close(g.open)
	wait(t, done)
	if err := <-followErr; err != nil {
		t.Fatalf("Follow: %v", err)
	}
	stored := storedLog(t, sv, "app", 1)
	if followed.String() != stored {
		t.Errorf("followed %d bytes, stored log has %d; followed:\n%s", followed.Len(), len(stored), followed.String())
	}
}

// slowWriter is a reader at the end of a slow connection.
type slowWriter struct{ w io.Writer }

func (s slowWriter) Write(p []byte) (int, error) {
	time.Sleep(time.Millisecond)
	return s.w.Write(p)
}
