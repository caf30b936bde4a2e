package events

import (
	"context"
	"testing"

	"github.com/baleen-ci/baleen"
)

func TestFilterAndOrder(t *testing.T) {
	b := New(16)
	ch := b.Subscribe(t.Context(), baleen.EventFilter{Project: "a", Kinds: []baleen.EventKind{baleen.EventLog}})
	b.Publish(baleen.Event{Kind: baleen.EventLog, Project: "b", Text: "other project"})
	b.Publish(baleen.Event{Kind: baleen.EventStageStarted, Project: "a"})
	b.Publish(baleen.Event{Kind: baleen.EventLog, Project: "a", Text: "one"})
	b.Publish(baleen.Event{Kind: baleen.EventLog, Project: "a", Text: "two"})
	for _, want := range []string{"one", "two"} {
		e := <-ch
		if e.Text != want {
			t.Fatalf("got %q, want %q", e.Text, want)
		}
		if e.Time.IsZero() || e.Seq == 0 {
			t.Errorf("event %q not stamped: seq %d time %v", e.Text, e.Seq, e.Time)
		}
	}
	select {
	case e := <-ch:
		t.Fatalf("got unexpected event %+v", e)
	default:
	}
}

// A subscriber that never reads must not block Publish; when it reads again it is told what it missed.
func TestSlowSubscriberIsToldItLagged(t *testing.T) {
	b := New(4)
	ch := b.Subscribe(t.Context(), baleen.EventFilter{})
	for i := 0; i < 100; i++ {
		b.Publish(baleen.Event{Kind: baleen.EventLog, Text: "x"})
	}
	for i := 0; i < 4; i++ {
		if e := <-ch; e.Kind != baleen.EventLog {
			t.Fatalf("event %d: got %s, want log", i, e.Kind)
		}
	}
	b.Publish(baleen.Event{Kind: baleen.EventLog, Text: "after"})
	e := <-ch
	if e.Kind != baleen.EventLagged || e.Dropped != 96 {
		t.Fatalf("got %s dropped %d, want lagged dropped 96", e.Kind, e.Dropped)
	}
	if e := <-ch; e.Text != "after" {
		t.Fatalf("got %q after the lag notice, want %q", e.Text, "after")
	}
}

func TestSubscriptionEndsWithContext(t *testing.T) {
	b := New(4)
	ctx, cancel := context.WithCancel(t.Context())
	ch := b.Subscribe(ctx, baleen.EventFilter{})
	cancel()
	for range ch {
	}
	b.Publish(baleen.Event{Kind: baleen.EventLog}) // no subscriber left: must not panic on a closed channel
	b.Close()
	if _, ok := <-b.Subscribe(t.Context(), baleen.EventFilter{}); ok {
		t.Fatal("subscription after Close delivered an event, want a closed channel")
	}
}
