package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/baleen-ci/baleen"
)

// Sender sends deliveries that another part of Baleen queues with Notifier.Enqueue (the commit statuses of
// package forge): one implementation of "queued on disk, retried with backoff, recorded" serves both.
type Sender interface {
	// Send makes one attempt at d and returns the HTTP status (or other reply code) it got, if any. An error
	// that wraps ErrNoRetry gives the delivery up at once; any other is retried.
	Send(ctx context.Context, d baleen.Delivery) (code int, err error)
}

// ErrNoRetry marks a Sender's error that no retry can cure (what it was to send to is gone).
var ErrNoRetry = errors.New("not retried")

// Enqueue queues d for the Sender named d.Sink in Options.Senders, to be sent at once and retried like a
// notification. Such deliveries are never coalesced into a digest; a newer one of the same sink, project and
// build replaces an older one still pending (a state such as a commit status: only the latest counts).
func (n *Notifier) Enqueue(ctx context.Context, d baleen.Delivery) (baleen.Delivery, error) {
	if _, ok := n.o.Senders[d.Sink]; !ok {
		return baleen.Delivery{}, fmt.Errorf("queue delivery: no sender %q: %w", d.Sink, baleen.ErrInvalid)
	}
	now := time.Now().UTC()
	d.ID, d.Status, d.Created, d.Next, d.Attempts = 0, baleen.DeliveryPending, now, now, 0
	d, err := n.o.Deliveries.CreateDelivery(ctx, d)
	if err != nil {
		return baleen.Delivery{}, fmt.Errorf("queue %s delivery: %w", d.Sink, err)
	}
	n.wake()
	return d, nil
}

// direct reports whether sink names one of Options.Senders rather than a configured sink.
func (n *Notifier) direct(sink string) bool {
	_, ok := n.o.Senders[sink]
	return ok
}

// replaceOlder marks every pending delivery of a Sender that a newer pending one of the same sink, project
// and build follows as coalesced into that newer one, and returns the pending deliveries left.
func (n *Notifier) replaceOlder(ctx context.Context, pending []baleen.Delivery) []baleen.Delivery {
	type state struct {
		sink, project string
		build         int
	}
	newest := map[state]int64{}
	for _, d := range pending {
		if n.direct(d.Sink) {
			k := state{d.Sink, d.Project, d.Build}
			newest[k] = max(newest[k], d.ID)
		}
	}
	left := pending[:0:0]
	coalesced := baleen.DeliveryCoalesced
	for _, d := range pending {
		by, ok := newest[state{d.Sink, d.Project, d.Build}]
		if !n.direct(d.Sink) || !ok || by == d.ID {
			left = append(left, d)
			continue
		}
		if _, err := n.o.Deliveries.UpdateDelivery(ctx, d.ID, baleen.DeliveryPatch{Status: &coalesced, Digest: &by}); err != nil {
			n.o.Log.Error("replace delivery", "sink", d.Sink, "delivery", d.ID, "err", err)
			continue
		}
	}
	return left
}
