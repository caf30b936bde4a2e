package notify_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/notify"
)

// A receiver that takes its time does not hold up the others: while the slow sink's attempt is still
// waiting for an answer, a delivery to another sink, queued after it, is sent.
func TestSlowReceiverDoesNotDelayOthers(t *testing.T) {
	st := openStore(t, t.TempDir())
	var entered atomic.Bool
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered.Store(true)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	fast := newReceiver(t, testSecret, 0)
	secret := writeFile(t, "hook", testSecret)
	slowSink := webhookSink(slow.URL, secret, "failed")
	slowSink.Name = "slow"
	fastSink := webhookSink(fast.URL, secret, "fixed")
	fastSink.Name = "fast"
	_, bus, _ := startNotifier(t, notify.Options{Sinks: validated(t, slowSink, fastSink), Deliveries: st, History: st,
		Window: time.Millisecond, FirstRetry: time.Hour})

	bus.Publish(finished(record(t, st, spec{status: baleen.StatusFailed})))
	waitFor(t, "the slow receiver's request", entered.Load)
	bus.Publish(finished(record(t, st, spec{status: baleen.StatusPassed})))
	waitFor(t, "the fast receiver's delivery", func() bool { return len(fast.received()) == 1 })
	ds, err := st.Deliveries(context.Background(), baleen.DeliveryFilter{Sink: "slow"})
	if err != nil || len(ds) != 1 {
		t.Fatalf("slow deliveries: got %d (err %v), want 1", len(ds), err)
	}
	if ds[0].Attempts != 0 {
		t.Errorf("the fast delivery went out only after the slow attempt had ended (%s: %q)", ds[0].Status, ds[0].Error)
	}
}
