package notify_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/notify"
)

// stateSender is a Sender at the boundary: it records what it was given and fails while failing is set,
// with ErrNoRetry when gone is set.
type stateSender struct {
	mu            sync.Mutex
	failing, gone bool
	sent          []string
}

func (s *stateSender) Send(_ context.Context, d baleen.Delivery) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.gone:
		return 0, fmt.Errorf("gone: %w", notify.ErrNoRetry)
	case s.failing:
		return 503, errors.New("down")
	}
	s.sent = append(s.sent, d.Event)
	return 200, nil
}

func (s *stateSender) set(failing, gone bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing, s.gone = failing, gone
}

func (s *stateSender) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.sent...)
}

// Deliveries queued with Enqueue are sent by their Sender, are never put in a digest even when many wait,
// replace an older pending one of the same build, and are given up at once on ErrNoRetry; a configured
// sink may not take a Sender's name.
func TestEnqueuedDeliveries(t *testing.T) {
	st := openStore(t, t.TempDir())
	s := &stateSender{failing: true}
	senders := map[string]notify.Sender{"state": s}
	if _, err := notify.New(notify.Options{Deliveries: st, History: st, Senders: senders,
		Sinks: validated(t, notify.Sink{Name: "state", Webhook: &notify.WebhookConfig{URL: "https://h.example.com", SecretFile: "/s"}})}); !errors.Is(err, baleen.ErrInvalid) || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("a sink named like a sender: got %v, want ErrInvalid saying the name is reserved", err)
	}
	n, _, _ := startNotifier(t, notify.Options{Deliveries: st, History: st, Senders: senders, FirstRetry: 20 * time.Millisecond, DigestAt: 2})
	ctx := t.Context()
	if _, err := n.Enqueue(ctx, baleen.Delivery{Sink: "nobody"}); !errors.Is(err, baleen.ErrInvalid) {
		t.Errorf("an unknown sender: got %v, want ErrInvalid", err)
	}
	for _, ev := range []string{"one", "two", "three"} {
		if _, err := n.Enqueue(ctx, baleen.Delivery{Sink: "state", Event: ev, Project: "shop-api", Build: 1}); err != nil {
			t.Fatal(err)
		}
	}
	other, err := n.Enqueue(ctx, baleen.Delivery{Sink: "state", Event: "other", Project: "shop-api", Build: 2})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a failed attempt at each build's newest", func() bool {
		ds, _ := st.Deliveries(ctx, baleen.DeliveryFilter{Statuses: []baleen.DeliveryStatus{baleen.DeliveryPending}})
		return len(ds) == 2 && ds[0].Attempts > 0 && ds[1].Attempts > 0
	})
	s.set(false, false)
	waitFor(t, "both sent", func() bool { return len(s.got()) == 2 })
	if got := strings.Join(s.got(), ","); got != "three,other" && got != "other,three" {
		t.Errorf("sent %s, want three and other, each once", got)
	}
	ds, _ := st.Deliveries(ctx, baleen.DeliveryFilter{Sink: "state"})
	for _, d := range ds {
		want := baleen.DeliveryCoalesced
		if d.Event == "three" || d.Event == "other" {
			want = baleen.DeliveryDelivered
		}
		if d.Status != want || d.Event == notify.EventDigest {
			t.Errorf("delivery %d (%s): got %s, want %s", d.ID, d.Event, d.Status, want)
		}
	}

	s.set(false, true)
	d, err := n.Enqueue(ctx, baleen.Delivery{Sink: "state", Event: "late", Project: "shop-api", Build: other.Build})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delivery given up", func() bool {
		got, _ := st.Delivery(ctx, d.ID)
		return got.Status == baleen.DeliveryFailed && got.Attempts == 1 && strings.Contains(got.Error, "gone")
	})
}
