package queue

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestProjectsOneAtATime(t *testing.T) {
	p := NewProjects()
	release, err := p.Acquire(t.Context(), "app", 1, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	holder := make(chan int, 1)
	got := make(chan error, 1)
	go func() {
		r, err := p.Acquire(context.Background(), "app", 2, nil, func(h int) { holder <- h })
		if err == nil {
			r()
		}
		got <- err
	}()
	if h := <-holder; h != 1 {
		t.Errorf("waiting for: got #%d, want #1", h)
	}
	// Another project is not held up.
	other, err := p.Acquire(t.Context(), "other", 1, nil, func(int) { t.Error("other project waited") })
	if err != nil {
		t.Fatal(err)
	}
	other()
	release()
	if err := <-got; err != nil {
		t.Errorf("second Acquire: %v", err)
	}
}

func TestProjectsAcquireEndsWithContext(t *testing.T) {
	p := NewProjects()
	if _, err := p.Acquire(t.Context(), "app", 1, nil, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	_, err := p.Acquire(ctx, "app", 2, nil, func(int) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

// The wait-for cycle of two pushes whose projects depend on each other: left's build holds left's queue
// and builds right (waiting for right's queue), while right's build holds right's queue and would build
// left.
func TestProjectsWaitCycle(t *testing.T) {
	p := NewProjects()
	for _, name := range []string{"left", "right"} {
		if _, err := p.Acquire(t.Context(), name, 1, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	waiting := make(chan struct{})
	go p.Acquire(t.Context(), "right", 2, []string{"left"}, func(int) { close(waiting) })
	<-waiting
	_, err := p.Acquire(t.Context(), "left", 2, []string{"right"}, func(int) { t.Error("waited on a cycle") })
	if !errors.Is(err, ErrWaitCycle) || err.Error() != "dependency cycle across builds: right waits for left waits for right" {
		t.Errorf("got %v, want ErrWaitCycle naming right waits for left waits for right", err)
	}
	// A wait that closes no cycle is allowed and recorded.
	third := make(chan struct{})
	go p.Acquire(t.Context(), "left", 3, []string{"api"}, func(int) { close(third) })
	select {
	case <-third:
	case <-time.After(30 * time.Second):
		t.Fatal("a wait without a cycle was refused")
	}
}

func TestSlots(t *testing.T) {
	s := NewSlots(2)
	if s.Cap() != 2 {
		t.Errorf("Cap: got %d, want 2", s.Cap())
	}
	r1, _ := s.Acquire(t.Context(), func() { t.Error("first slot waited") })
	r2, _ := s.Acquire(t.Context(), func() { t.Error("second slot waited") })
	waited := make(chan struct{})
	got := make(chan error, 1)
	go func() {
		r, err := s.Acquire(context.Background(), func() { close(waited) })
		if err == nil {
			r()
		}
		got <- err
	}()
	<-waited
	r1()
	if err := <-got; err != nil {
		t.Errorf("third Acquire: %v", err)
	}
	r2()
	if NewSlots(0).Cap() != 1 {
		t.Error("NewSlots(0): want one slot")
	}
}
