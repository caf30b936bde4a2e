package pool_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/docker/pool"
)

// A retry's placement never takes an engine it is told to avoid, and says so when no other engine is
// left. No engine is called: placement reads the pool's own state.
func TestAcquireAvoids(t *testing.T) {
	dir := t.TempDir()
	p, err := pool.New(pool.Config{
		"a": {Host: "unix://" + dir + "/a.sock", Slots: 4, Labels: []string{"big"}},
		"b": {Host: "unix://" + dir + "/b.sock", Slots: 1},
	}, pool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	l, err := p.Acquire(t.Context(), "x-1-i", nil, "a")
	if err != nil || l.Name != "b" {
		t.Fatalf("Acquire avoiding a: got %v (%v), want engine b although a has more free slots", l, err)
	}
	l.Release()
	_, err = p.Acquire(t.Context(), "x-2-i", nil, "a", "b")
	if !errors.Is(err, baleen.ErrInvalid) || !strings.Contains(err.Error(), "no engine besides a, b") {
		t.Errorf("Acquire avoiding every engine: got %v, want ErrInvalid naming them", err)
	}
	pl := p.Placer()
	if err := pl.CheckLabels([]string{"big"}, "a"); !errors.Is(err, baleen.ErrInvalid) || !strings.Contains(err.Error(), "besides a") {
		t.Errorf("CheckLabels([big]) avoiding a: got %v, want ErrInvalid", err)
	}
	if err := pl.CheckLabels(nil, "a"); err != nil {
		t.Errorf("CheckLabels() avoiding a: %v, want b to do", err)
	}
}
