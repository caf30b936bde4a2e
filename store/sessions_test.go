package store_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/store"
)

// reopen closes s and opens the store in dir again, as a restart does.
func reopen(t *testing.T, s *store.Store, dir string) *store.Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := store.Open(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	return s2
}

// Web sessions are found by the hash of their secret, survive a reopening, are moved on, end one by one
// or all of a key at once, and are not returned once expired.
func TestWebSessions(t *testing.T) {
	s, dir := openStore(t)
	ctx := t.Context()
	now := time.Now().UTC()
	ann := baleen.WebSession{Hash: strings.Repeat("a1", 32), Identity: baleen.Identity{User: "ann", Fingerprint: "SHA256:ann"},
		CSRF: "csrf-ann", Created: now, Expires: now.Add(time.Hour)}
	ann2 := ann
	ann2.Hash = strings.Repeat("a2", 32)
	bob := baleen.WebSession{Hash: strings.Repeat("b1", 32), Identity: baleen.Identity{User: "bob", Fingerprint: "SHA256:bob"},
		Created: now, Expires: now.Add(time.Hour)}
	for _, ws := range []baleen.WebSession{ann, ann2, bob} {
		if err := s.CreateSession(ctx, ws); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateSession(ctx, ann); !errors.Is(err, baleen.ErrExists) {
		t.Errorf("second create: got %v, want ErrExists", err)
	}
	if err := s.CreateSession(ctx, baleen.WebSession{Hash: "short", Expires: now.Add(time.Hour)}); !errors.Is(err, baleen.ErrInvalid) {
		t.Errorf("bad hash: got %v, want ErrInvalid", err)
	}

	s = reopen(t, s, dir)
	got, err := s.SessionByHash(ctx, ann.Hash)
	if err != nil || got.Identity != ann.Identity || got.CSRF != "csrf-ann" || got.Hash != ann.Hash {
		t.Fatalf("after reopening: got %+v, %v; want ann's session", got, err)
	}
	later := now.Add(2 * time.Hour).Truncate(time.Second)
	if err := s.ExtendSession(ctx, ann.Hash, later); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SessionByHash(ctx, ann.Hash); !got.Expires.Equal(later) {
		t.Errorf("extended: expires %s, want %s", got.Expires, later)
	}
	if err := s.ExtendSession(ctx, strings.Repeat("cd", 32), later); !errors.Is(err, baleen.ErrNotFound) {
		t.Errorf("extend unknown: got %v, want ErrNotFound", err)
	}

	if n, err := s.DeleteSessionsOf(ctx, "SHA256:ann"); n != 2 || err != nil {
		t.Errorf("end ann's sessions: got %d, %v; want 2", n, err)
	}
	if _, err := s.SessionByHash(ctx, ann2.Hash); !errors.Is(err, baleen.ErrNotFound) {
		t.Errorf("ann's second session after ending them: got %v, want ErrNotFound", err)
	}
	if _, err := s.SessionByHash(ctx, bob.Hash); err != nil {
		t.Errorf("bob's session after ending ann's: %v", err)
	}
	if err := s.DeleteSession(ctx, bob.Hash); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByHash(ctx, bob.Hash); !errors.Is(err, baleen.ErrNotFound) {
		t.Errorf("bob's session after ending it: got %v, want ErrNotFound", err)
	}
	if _, err := s.DeleteSessionsOf(ctx, ""); !errors.Is(err, baleen.ErrInvalid) {
		t.Errorf("no fingerprint: got %v, want ErrInvalid", err)
	}

	short := baleen.WebSession{Hash: strings.Repeat("c1", 32), Identity: bob.Identity, Created: now, Expires: time.Now().Add(time.Second)}
	if err := s.CreateSession(ctx, short); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.SessionByHash(ctx, short.Hash)
		if errors.Is(err, baleen.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a session that expires in 1s is still found after 10s (err %v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
