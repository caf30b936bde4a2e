package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/store"
)

// A webhook delivery ID is seen once per project, still after the store is reopened (a restart), and
// forgotten when its lifetime ends.
func TestSeenHookDelivery(t *testing.T) {
	s, dir := openStore(t)
	ctx := t.Context()
	seen := func(s *store.Store, project, id string, ttl time.Duration) bool {
		t.Helper()
		ok, err := s.SeenHookDelivery(ctx, project, id, ttl)
		if err != nil {
			t.Fatalf("SeenHookDelivery(%s, %s): %v", project, id, err)
		}
		return ok
	}
	if seen(s, "shop-api", "d-1", time.Hour) {
		t.Fatal("first delivery: got seen, want new")
	}
	if !seen(s, "shop-api", "d-1", time.Hour) {
		t.Fatal("replay: got new, want seen")
	}
	if seen(s, "shop-web", "d-1", time.Hour) {
		t.Error("the same ID for another project: got seen, want new")
	}
	s2 := reopen(t, s, dir)
	if !seen(s2, "shop-api", "d-1", time.Hour) {
		t.Error("replay after reopening: got new, want seen")
	}
	if seen(s2, "shop-api", "short", time.Second) {
		t.Fatal("short-lived delivery: got seen, want new")
	}
	deadline := time.Now().Add(10 * time.Second)
	for seen(s2, "shop-api", "short", time.Second) {
		if time.Now().After(deadline) {
			t.Fatal("a delivery kept for 1s is still seen after 10s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, c := range []struct{ project, id string }{{"../x", "d"}, {"shop-api", ""}} {
		if _, err := s2.SeenHookDelivery(ctx, c.project, c.id, time.Hour); !errors.Is(err, baleen.ErrInvalid) {
			t.Errorf("%q %q: got %v, want ErrInvalid", c.project, c.id, err)
		}
	}
}
