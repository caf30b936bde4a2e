package notify

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"time"

	"github.com/baleen-ci/baleen"
)

// attemptTimeout bounds one sending attempt.
const attemptTimeout = 30 * time.Second

// pruneEvery is how often delivery records older than Options.Keep are deleted.
const pruneEvery = 24 * time.Hour

// idleWait is how long the worker sleeps when nothing is pending, in case a delivery was queued by another
// process sharing the store.
const idleWait = time.Minute

// work sends due deliveries until ctx ends, sleeping until the next one is due or a new one is queued, and
// returns when the attempts it started have ended.
func (n *Notifier) work(ctx context.Context) {
	defer n.wg.Wait()
	var pruned time.Time
	for {
		if time.Since(pruned) > pruneEvery {
			pruned = time.Now()
			if k, err := n.o.Deliveries.PruneDeliveries(ctx, pruned.Add(-n.o.Keep)); err != nil && ctx.Err() == nil {
				n.o.Log.Error("prune delivery records", "err", err)
			} else if k > 0 {
				n.o.Log.Info("pruned delivery records", "deleted", k)
			}
		}
		wait := n.sendDue(ctx)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-n.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// sendDue sends what is due, coalescing per sink, and returns how long until the next delivery is due.
func (n *Notifier) sendDue(ctx context.Context) time.Duration {
	// The busy lanes are read before the queue: a lane idle now has recorded its attempts, so the queue
	// read after shows them; one that ends between the two reads is left for the next pass, not sent twice.
	busy := n.busyLanes()
	pending, err := n.o.Deliveries.PendingDeliveries(ctx)
	if err != nil {
		if ctx.Err() == nil {
			n.o.Log.Error("read notification queue", "err", err)
		}
		return n.o.FirstRetry
	}
	pending = n.replaceOlder(ctx, n.idle(pending, busy))
	now := time.Now()
	wait := idleWait
	fresh := map[string][]baleen.Delivery{} // first attempts, due or not, by sink
	var due []baleen.Delivery
	for _, d := range pending {
		if d.Attempts == 0 && d.Redelivers == 0 && d.Event != EventDigest && !n.direct(d.Sink) {
			fresh[d.Sink] = append(fresh[d.Sink], d)
			continue
		}
		if left := d.Next.Sub(now); left > 0 {
			wait = min(wait, left)
			continue
		}
		due = append(due, d)
	}
	for sink, ds := range fresh {
		ready, left := dueOf(ds, now)
		if len(ready) == 0 {
			wait = min(wait, left)
			continue
		}
		// The first one's window is over: it takes along every fresh one of its sink into a digest.
		if len(ds) >= n.o.DigestAt {
			d, err := n.coalesce(ctx, sink, ds)
			if err != nil {
				n.o.Log.Error("coalesce notifications", "sink", sink, "err", err)
				continue
			}
			ready = []baleen.Delivery{d}
		} else if len(ready) < len(ds) {
			wait = min(wait, left)
		}
		due = append(due, ready...)
	}
	n.start(ctx, due)
	return max(wait, 0)
}

// lane names the deliveries that are sent one after the other, in order: those of a sink, and of a
// Sender, those of one project (a forge that is slow for one project does not hold up another's statuses).
// Lanes are sent concurrently, so that a receiver that is slow or down delays no other.
func (n *Notifier) lane(d baleen.Delivery) string {
	if n.direct(d.Sink) {
		return d.Sink + "\x00" + d.Project
	}
	return d.Sink
}

// busyLanes returns the lanes an attempt is being made in.
func (n *Notifier) busyLanes() map[string]bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return maps.Clone(n.busy)
}

// idle returns the deliveries of pending whose lane is not busy: those of a busy lane are left alone (not
// replaced, coalesced or sent) until it is done.
func (n *Notifier) idle(pending []baleen.Delivery, busy map[string]bool) []baleen.Delivery {
	left := pending[:0:0]
	for _, d := range pending {
		if !busy[n.lane(d)] {
			left = append(left, d)
		}
	}
	return left
}

// start sends due in one goroutine per lane; each wakes the worker when its lane is done, to schedule the
// lane's retries and what was queued meanwhile.
func (n *Notifier) start(ctx context.Context, due []baleen.Delivery) {
	lanes := map[string][]baleen.Delivery{}
	var order []string
	for _, d := range due {
		l := n.lane(d)
		if lanes[l] == nil {
			order = append(order, l)
		}
		lanes[l] = append(lanes[l], d)
	}
	for _, l := range order {
		n.mu.Lock()
		n.busy[l] = true
		n.mu.Unlock()
		n.wg.Go(func() {
			defer n.wake()
			defer func() { n.mu.Lock(); delete(n.busy, l); n.mu.Unlock() }()
			for _, d := range lanes[l] {
				if ctx.Err() != nil {
					return
				}
				n.attempt(ctx, d)
			}
		})
	}
}

// coalesce replaces ds, fresh deliveries to one sink, by one digest delivery that carries them all.
func (n *Notifier) coalesce(ctx context.Context, sink string, ds []baleen.Delivery) (baleen.Delivery, error) {
	digest := stored{Message: Message{Version: Version, Event: EventDigest, Time: time.Now().UTC()}}
	seen := map[string]bool{}
	for _, d := range ds {
		var st stored
		if err := json.Unmarshal(d.Message, &st); err != nil {
			return baleen.Delivery{}, err
		}
		digest.Digest = append(digest.Digest, st.Message)
		for _, a := range st.Authors {
			if !seen[a] {
				seen[a] = true
				digest.Authors = append(digest.Authors, a)
			}
		}
	}
	body, err := json.Marshal(digest)
	if err != nil {
		return baleen.Delivery{}, err
	}
	now := time.Now().UTC()
	dd, err := n.o.Deliveries.CreateDelivery(ctx, baleen.Delivery{
		Sink: sink, Event: EventDigest, Message: body, Status: baleen.DeliveryPending, Created: now, Next: now,
	})
	if err != nil {
		return baleen.Delivery{}, err
	}
	status := baleen.DeliveryCoalesced
	for _, d := range ds {
		if _, err := n.o.Deliveries.UpdateDelivery(ctx, d.ID, baleen.DeliveryPatch{Status: &status, Digest: &dd.ID}); err != nil {
			return dd, err
		}
	}
	return dd, nil
}

// attempt sends d once and records the outcome: delivered, pending until its next try, or given up.
func (n *Notifier) attempt(ctx context.Context, d baleen.Delivery) {
	log := n.o.Log.With("sink", d.Sink, "delivery", d.ID, "project", d.Project, "build", d.Build)
	actx, cancel := context.WithTimeout(ctx, attemptTimeout)
	code, err := n.send(actx, d)
	cancel()
	if ctx.Err() != nil {
		return // shutting down: the attempt does not count
	}
	now := time.Now().UTC()
	attempts := d.Attempts + 1
	p := baleen.DeliveryPatch{Attempts: &attempts, Last: &now, Code: &code}
	msg := ""
	p.Error = &msg
	var next time.Time
	status := baleen.DeliveryDelivered
	if err != nil {
		msg = err.Error()
		next = now.Add(n.backoff(attempts))
		status = baleen.DeliveryPending
		if errors.Is(err, ErrNoRetry) || next.Sub(d.Created) > n.o.GiveUp {
			status = baleen.DeliveryFailed
		}
		p.Next = &next
	}
	p.Status = &status
	if _, uerr := n.o.Deliveries.UpdateDelivery(ctx, d.ID, p); uerr != nil {
		log.Error("record delivery", "err", uerr)
	}
	switch status {
	case baleen.DeliveryDelivered:
		log.Info("notification delivered", "event", d.Event, "code", code)
	case baleen.DeliveryFailed:
		log.Warn("notification given up", "event", d.Event, "attempts", attempts, "err", msg)
	default:
		log.Info("notification failed, will retry", "event", d.Event, "attempts", attempts, "next", next, "err", msg)
	}
}

// send makes one attempt at d, with its sink's sender or the Sender it was queued for.
func (n *Notifier) send(ctx context.Context, d baleen.Delivery) (int, error) {
	if s, ok := n.o.Senders[d.Sink]; ok {
		return s.Send(ctx, d)
	}
	snd, ok := n.senders[d.Sink]
	if !ok {
		return 0, errSinkGone
	}
	var st stored
	if err := json.Unmarshal(d.Message, &st); err != nil {
		return 0, err
	}
	st.Message.LogTail, st.Message.Authors = st.LogTail, st.Authors
	return snd.send(ctx, d, &st)
}

// backoff is the wait after the given number of failed attempts: FirstRetry doubled each time, at most
// MaxRetry.
func (n *Notifier) backoff(attempts int) time.Duration {
	d := n.o.FirstRetry
	for i := 1; i < attempts && d < n.o.MaxRetry; i++ {
		d *= 2
	}
	return min(d, n.o.MaxRetry)
}

// dueOf splits out the deliveries of ds that are due at now, and says how long until the first other one is.
func dueOf(ds []baleen.Delivery, now time.Time) ([]baleen.Delivery, time.Duration) {
	var ready []baleen.Delivery
	left := idleWait
	for _, d := range ds {
		if l := d.Next.Sub(now); l > 0 {
			left = min(left, l)
		} else {
			ready = append(ready, d)
		}
	}
	return ready, left
}
