package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/store"
)

// The pending index follows each delivery's status, and both survive a reopen.
func TestDeliveryQueue(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, sink := range []string{"a", "b", "a"} {
		d, err := st.CreateDelivery(ctx, baleen.Delivery{Sink: sink, Event: "failed", Message: []byte(`{"v":1}`)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	if ids[0] != 1 || ids[2] != 3 {
		t.Fatalf("ids: got %v, want 1 2 3", ids)
	}
	done := baleen.DeliveryDelivered
	code := 204
	if _, err := st.UpdateDelivery(ctx, 2, baleen.DeliveryPatch{Status: &done, Code: &code}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = store.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pending, err := st.PendingDeliveries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 2 || pending[0].ID != 1 || pending[1].ID != 3 {
		t.Errorf("pending: got %+v, want 1 and 3", pending)
	}
	all, err := st.Deliveries(ctx, baleen.DeliveryFilter{Sink: "a", Limit: 1})
	if err != nil || len(all) != 1 || all[0].ID != 3 {
		t.Errorf("newest of sink a: got %+v (err %v), want 3", all, err)
	}
	d, err := st.Delivery(ctx, 2)
	if err != nil || d.Code != 204 || d.Status != done || d.Created.IsZero() {
		t.Errorf("delivery 2: got %+v (err %v)", d, err)
	}
	if _, err := st.Delivery(ctx, 9); !errors.Is(err, baleen.ErrNotFound) {
		t.Errorf("unknown delivery: got %v, want ErrNotFound", err)
	}
	if d, err := st.CreateDelivery(ctx, baleen.Delivery{}); err == nil || !errors.Is(err, baleen.ErrInvalid) {
		t.Errorf("delivery without a sink: got %+v, %v; want ErrInvalid", d, err)
	}
	if id, err := st.CreateDelivery(ctx, baleen.Delivery{Sink: "a"}); err != nil || id.ID != 4 {
		t.Errorf("next id after reopen: got %d (err %v), want 4", id.ID, err)
	}
	// Pruning takes the delivered one (2) and keeps the pending ones, and those made since.
	n, err := st.PruneDeliveries(ctx, time.Now().Add(time.Hour))
	if err != nil || n != 1 {
		t.Errorf("prune: got %d (err %v), want 1", n, err)
	}
	if _, err := st.Delivery(ctx, 2); !errors.Is(err, baleen.ErrNotFound) {
		t.Errorf("pruned delivery 2: got %v, want ErrNotFound", err)
	}
	if n, _ := st.PruneDeliveries(ctx, time.Now().Add(-time.Hour)); n != 0 {
		t.Errorf("prune of nothing old: got %d, want 0", n)
	}
	if left, _ := st.Deliveries(ctx, baleen.DeliveryFilter{}); len(left) != 3 {
		t.Errorf("after prune: got %d deliveries, want 3", len(left))
	}
}
