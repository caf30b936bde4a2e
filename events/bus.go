// Package events is the in-process bus of build and release events: the scheduler publishes each event
// once, and the push output, `logs -f`, the web pages, notifications and metrics subscribe. A slow
// subscriber never stalls a build: each has a bounded buffer, and one that falls behind is told how many
// events it missed (baleen.EventLagged) and can resume from the stored log.
package events

import (
	"context"
	"sync"
	"time"

	"github.com/baleen-ci/baleen"
)

// DefaultBuffer is how many events a subscriber may fall behind before it misses some.
const DefaultBuffer = 1024

// Bus fans events out to subscribers. Its methods are safe for concurrent use.
type Bus struct {
	buffer int
	mu     sync.Mutex
	seq    uint64
	subs   map[*sub]struct{}
	closed bool
}

type sub struct {
	f       baleen.EventFilter
	ch      chan baleen.Event
	dropped int
}

var (
	_ baleen.EventPublisher = (*Bus)(nil)
	_ baleen.EventSource    = (*Bus)(nil)
)

// New returns a Bus whose subscribers may each fall buffer events behind; DefaultBuffer when buffer <= 0.
func New(buffer int) *Bus {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	return &Bus{buffer: buffer, subs: map[*sub]struct{}{}}
}

// Publish numbers e, stamps its time if unset, and hands it to every matching subscriber without waiting.
func (b *Bus) Publish(e baleen.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.seq++
	e.Seq = b.seq
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	for s := range b.subs {
		if s.f.Match(e) {
			s.send(e)
		}
	}
}

// send delivers e, or counts it as missed when the buffer is full. Once a subscriber has missed events,
// the first free place goes to an EventLagged that says how many, ahead of anything newer.
func (s *sub) send(e baleen.Event) {
	if s.dropped > 0 {
		select {
		case s.ch <- baleen.Event{Kind: baleen.EventLagged, Time: e.Time, Seq: e.Seq, Dropped: s.dropped}:
			s.dropped = 0
		default:
			s.dropped++
			return
		}
	}
	select {
	case s.ch <- e:
	default:
		s.dropped++
	}
}

// Subscribe returns the events matching f from now on, until ctx ends or the bus closes.
func (b *Bus) Subscribe(ctx context.Context, f baleen.EventFilter) <-chan baleen.Event {
	s := &sub{f: f, ch: make(chan baleen.Event, b.buffer)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		close(s.ch)
		return s.ch
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	context.AfterFunc(ctx, func() { b.drop(s) })
	return s.ch
}

func (b *Bus) drop(s *sub) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[s]; ok {
		delete(b.subs, s)
		close(s.ch)
	}
}

// Close ends every subscription; later events are discarded.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		delete(b.subs, s)
		close(s.ch)
	}
}
