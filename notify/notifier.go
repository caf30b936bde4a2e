package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/baleen-ci/baleen"
)

// Filter is the subscription a Notifier reads: the finished builds and releases.
var Filter = baleen.EventFilter{Kinds: []baleen.EventKind{baleen.EventBuildFinished, baleen.EventReleaseFinished}}

// Options are a Notifier's dependencies and settings; the zero durations take the defaults.
type Options struct {
	// Sinks is the validated `notify:` list (ValidateConfig).
	Sinks []Sink
	// Deliveries is the queue and the record of deliveries (store.Store).
	Deliveries baleen.DeliveryStore
	// History reads earlier builds and logs (store.Store).
	History History
	// Authors reads commit authors for e-mail sinks with commit_authors; nil mails the fixed addresses only.
	Authors Authors
	// Links returns the web pages of a build; nil when the web listener is off.
	Links func(project string, build int) *Links
	Log   *slog.Logger
	// HTTP sends webhooks and chat messages; made safe by HTTPClient (a 30s timeout when nil; redirects to
	// another host not followed).
	HTTP *http.Client
	// Window is how long a new delivery waits for others to the same sink, to be sent as one digest
	// (default 10s); DigestAt is how many make a digest (default 3).
	Window   time.Duration
	DigestAt int
	// FirstRetry is the wait after the first failed attempt (default 30s), doubled after each other up to
	// MaxRetry (default 1h); a delivery still failing GiveUp after it was queued (default 24h) is given up.
	FirstRetry time.Duration
	MaxRetry   time.Duration
	GiveUp     time.Duration
	// Senders send the deliveries that other parts queue with Enqueue, by sink name (forge.StatusSink: the
	// commit statuses); no configured sink may take one of their names.
	Senders map[string]Sender
	// Keep is how long the records of sent, given-up and coalesced deliveries are kept (default 30 days).
	Keep time.Duration
}

// Notifier turns build events into deliveries and sends them. Run it once; its other methods are safe for
// concurrent use with Run.
type Notifier struct {
	o       Options
	sinks   map[string]*Sink
	senders map[string]sender
	kick    chan struct{}

	mu   sync.Mutex
	busy map[string]bool // the lanes an attempt is being made in
	wg   sync.WaitGroup  // the lanes' goroutines
}

// New returns a Notifier. The sinks must have passed ValidateConfig.
func New(o Options) (*Notifier, error) {
	if o.Deliveries == nil || o.History == nil {
		return nil, errors.New("notify: deliveries and history stores are required")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	o.HTTP = HTTPClient(o.HTTP)
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Window, 10*time.Second)
	def(&o.FirstRetry, 30*time.Second)
	def(&o.MaxRetry, time.Hour)
	def(&o.GiveUp, 24*time.Hour)
	def(&o.Keep, 30*24*time.Hour)
	if o.DigestAt < 2 {
		o.DigestAt = 3
	}
	n := &Notifier{o: o, sinks: map[string]*Sink{}, senders: map[string]sender{}, kick: make(chan struct{}, 1),
		busy: map[string]bool{}}
	for i := range o.Sinks {
		s := &o.Sinks[i]
		if _, ok := o.Senders[s.Name]; ok {
			return nil, fmt.Errorf("notify[%d]: name: %q is reserved for Baleen's own deliveries: %w", i, s.Name, baleen.ErrInvalid)
		}
		n.sinks[s.Name] = s
		n.senders[s.Name] = newSender(s, o.HTTP)
	}
	return n, nil
}

// Run queues a delivery for every sink that wants an event from events (subscribed with Filter) and sends
// the queue, including what a previous run left, until ctx ends. It returns nil when ctx ends.
func (n *Notifier) Run(ctx context.Context, events <-chan baleen.Event) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.work(ctx)
	}()
	defer func() { <-done }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-events:
			if !ok {
				<-ctx.Done()
				return nil
			}
			n.handle(ctx, e)
		}
	}
}

// handle queues the deliveries of one event. Errors are logged: a notification never fails a build.
func (n *Notifier) handle(ctx context.Context, e baleen.Event) {
	var f *facts
	var err error
	switch {
	case e.Kind == baleen.EventLagged:
		n.o.Log.Warn("notifications may be missing: the event stream lagged", "dropped", e.Dropped)
		return
	case e.Kind == baleen.EventBuildFinished && e.Record != nil:
		f, err = buildFacts(ctx, n.o.History, e.Record)
	case e.Kind == baleen.EventReleaseFinished && e.Release != nil:
		f = releaseFacts(e.Release)
	}
	if err != nil {
		n.o.Log.Error("derive notification", "project", e.Project, "build", e.Build, "err", err)
		return
	}
	if f == nil {
		return
	}
	if n.o.Links != nil && f.msg.Build > 0 {
		f.msg.Links = n.o.Links(f.msg.Project, f.msg.Build)
	}
	queued := 0
	for i := range n.o.Sinks {
		s := &n.o.Sinks[i]
		ev := s.event(f)
		if ev == "" || !s.wants(f.msg.Project, f.msg.Branch) {
			continue
		}
		if err := n.enqueue(ctx, s, ev, f); err != nil {
			n.o.Log.Error("queue notification", "project", e.Project, "build", e.Build, "sink", s.Name, "err", err)
			continue
		}
		queued++
	}
	if queued > 0 {
		n.wake()
	}
}

func (n *Notifier) enqueue(ctx context.Context, s *Sink, event string, f *facts) error {
	st := stored{Message: f.msg}
	st.Event = event
	if s.Email != nil && f.msg.Verdict == string(baleen.StatusFailed) && f.msg.Release == nil {
		n.mailExtras(ctx, s, f, &st)
	}
	body, err := json.Marshal(st)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	_, err = n.o.Deliveries.CreateDelivery(ctx, baleen.Delivery{
		Sink: s.Name, Event: event, Project: f.msg.Project, Build: f.msg.Build, Message: body,
		Status: baleen.DeliveryPending, Created: now, Next: now.Add(n.o.Window),
	})
	return err
}

// mailExtras adds the log tail and, for failed, the commit authors to a mail's message.
func (n *Notifier) mailExtras(ctx context.Context, s *Sink, f *facts, st *stored) {
	tail, err := logTail(ctx, n.o.History, f.msg.Project, f.msg.Build, logTailLines)
	if err != nil {
		n.o.Log.Warn("read log tail", "project", f.msg.Project, "build", f.msg.Build, "err", err)
	}
	st.LogTail = tail
	if !s.Email.CommitAuthors || st.Event != EventFailed || n.o.Authors == nil {
		return
	}
	authors, err := n.o.Authors.Authors(ctx, f.msg.Project, f.msg.Commit, f.since)
	if err != nil {
		n.o.Log.Warn("read commit authors", "project", f.msg.Project, "commit", f.msg.Commit, "err", err)
	}
	st.Authors = authors
}

func (n *Notifier) wake() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// Redeliver queues delivery id again, as a new delivery sent at once, and returns the new one.
func (n *Notifier) Redeliver(ctx context.Context, id int64) (baleen.Delivery, error) {
	d, err := n.o.Deliveries.Delivery(ctx, id)
	if err != nil {
		return baleen.Delivery{}, fmt.Errorf("redeliver: %w", err)
	}
	if _, ok := n.sinks[d.Sink]; !ok && !n.direct(d.Sink) {
		return baleen.Delivery{}, fmt.Errorf("redeliver %d: sink %q is no longer configured: %w", id, d.Sink, baleen.ErrNotFound)
	}
	now := time.Now().UTC()
	nd, err := n.o.Deliveries.CreateDelivery(ctx, baleen.Delivery{
		Sink: d.Sink, Event: d.Event, Project: d.Project, Build: d.Build, Message: d.Message,
		Status: baleen.DeliveryPending, Created: now, Next: now, Redelivers: id,
	})
	if err != nil {
		return baleen.Delivery{}, fmt.Errorf("redeliver %d: %w", id, err)
	}
	n.wake()
	return nd, nil
}
