package store_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
)

// A sign-in link survives a reopening of the store, is redeemed once only, and is refused once expired.
func TestLoginLinks(t *testing.T) {
	s, dir := openStore(t)
	ctx := t.Context()
	ann := baleen.Identity{User: "ann", Fingerprint: "SHA256:ann"}
	link := baleen.LoginLink{Hash: strings.Repeat("a1", 32), Identity: ann, Expires: time.Now().Add(5 * time.Minute)}
	if err := s.CreateLoginLink(ctx, link); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLoginLink(ctx, link); !errors.Is(err, baleen.ErrExists) {
		t.Errorf("second create: got %v, want ErrExists", err)
	}
	for name, bad := range map[string]baleen.LoginLink{
		"short hash":   {Hash: "short", Identity: ann, Expires: time.Now().Add(time.Minute)},
		"expired soon": {Hash: strings.Repeat("a2", 32), Identity: ann, Expires: time.Now().Add(-time.Second)},
	} {
		if err := s.CreateLoginLink(ctx, bad); !errors.Is(err, baleen.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}

	s = reopen(t, s, dir)
	got, err := s.RedeemLoginLink(ctx, link.Hash)
	if err != nil || got.Identity != ann || got.Hash != link.Hash || !got.Expires.Equal(link.Expires) {
		t.Fatalf("redeem after reopening: got %+v, %v; want ann's link", got, err)
	}
	if _, err := s.RedeemLoginLink(ctx, link.Hash); !errors.Is(err, baleen.ErrNotFound) {
		t.Errorf("second redeem: got %v, want ErrNotFound", err)
	}
	if _, err := s.RedeemLoginLink(ctx, strings.Repeat("cd", 32)); !errors.Is(err, baleen.ErrNotFound) {
		t.Errorf("unknown link: got %v, want ErrNotFound", err)
	}

	short := baleen.LoginLink{Hash: strings.Repeat("b1", 32), Identity: ann, Expires: time.Now().Add(50 * time.Millisecond)}
	if err := s.CreateLoginLink(ctx, short); err != nil {
		t.Fatal(err)
	}
	for time.Now().Before(short.Expires) {
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := s.RedeemLoginLink(ctx, short.Hash); !errors.Is(err, baleen.ErrNotFound) {
		t.Errorf("expired link: got %v, want ErrNotFound", err)
	}
}

// TestLoginLinkRedeemedOnceConcurrently stops a sign-in link leaked to an attacker from opening a second
// session while its owner opens it: of many openings at the same moment exactly one succeeds.
func TestLoginLinkRedeemedOnceConcurrently(t *testing.T) {
	s, _ := openStore(t)
	ctx := t.Context()
	for round := range 5 {
		link := baleen.LoginLink{Hash: strings.Repeat(string(rune('a'+round))+"0", 32), Identity: baleen.Identity{User: "ann"},
			Expires: time.Now().Add(time.Minute)}
		if err := s.CreateLoginLink(ctx, link); err != nil {
			t.Fatal(err)
		}
		const openers = 16
		var wg sync.WaitGroup
		errs := make(chan error, openers)
		start := make(chan struct{})
		for range openers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := s.RedeemLoginLink(ctx, link.Hash)
				errs <- err
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		won := 0
		for err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, baleen.ErrNotFound):
				t.Errorf("round %d: a losing redeem: got %v, want ErrNotFound", round, err)
			}
		}
		if won != 1 {
			t.Errorf("round %d: %d of %d concurrent redeems succeeded, want exactly 1", round, won, openers)
		}
	}
}
