package pool_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/docker"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
	"github.com/baleen-ci/baleen/pipeline/docker/pool"
)

// twoEngines returns a pool of the test's two real engines: "first" (DOCKER_HOST, 2 slots) and "second"
// (the one scripts/second-engine.sh starts, secondSlots slots, label "big"), checked every second.
func twoEngines(t testing.TB, secondSlots int, finished func(baleen.BuildID) bool) *pool.Pool {
	t.Helper()
	return testPool(t, 20*time.Second, finished, map[string]pool.EngineConfig{
		"first":  {Host: firstHost(t), Slots: 2},
		"second": {Host: dockertest.SecondEngineHost(t), Slots: secondSlots, Labels: []string{"big"}},
	})
}

// firstHost is the address of the test's first engine (DOCKER_HOST); it fails or skips the test as the
// docker tests do when that engine is missing.
func firstHost(t testing.TB) string {
	t.Helper()
	dockertest.Engine(t)
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return "unix:///var/run/docker.sock"
}

// testPool is a pool of cfg's engines, with callTimeout per engine call, checked every second, closed
// when the test ends.
func testPool(t testing.TB, callTimeout time.Duration, finished func(baleen.BuildID) bool, cfg pool.Config) *pool.Pool {
	t.Helper()
	p, err := pool.New(cfg, pool.Options{
		Engine:         docker.Options{CallTimeout: callTimeout, WatchInterval: time.Second},
		HealthInterval: time.Second,
		Finished:       finished,
	})
	if err != nil {
		t.Fatalf("pool.New: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// acquire takes a slot for a new build id, registering its teardown on the engine it got.
func acquire(t *testing.T, p *pool.Pool, labels []string) (*pool.Lease, baleen.BuildID) {
	t.Helper()
	id := dockertest.BuildID(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	l, err := p.Acquire(ctx, id, labels)
	if err != nil {
		t.Fatalf("Acquire(%v): %v", labels, err)
	}
	dockertest.Cleanup(t, l.Engine, id)
	t.Cleanup(l.Release)
	return l, id
}

func TestPoolSpreadsBuilds(t *testing.T) {
	p := twoEngines(t, 2, nil)
	got := map[string]int{}
	var leases []*pool.Lease
	var ids []baleen.BuildID
	for range 4 {
		l, id := acquire(t, p, nil)
		got[l.Name]++
		leases = append(leases, l)
		ids = append(ids, id)
	}
	if got["first"] != 2 || got["second"] != 2 {
		t.Fatalf("four builds on two engines of two slots: got %v, want two on each", got)
	}

	// Each build's network and container are on its engine, and on that engine only.
	for i, l := range leases {
		bb := dockertest.BusyboxImageOn(t, l.Engine)
		if err := l.Engine.Setup(t.Context(), ids[i]); err != nil {
			t.Fatalf("Setup on %s: %v", l.Name, err)
		}
		_, code, err := l.Engine.Run(t.Context(), ids[i], baleen.ContainerSpec{Role: "test", Image: bb, Cmd: []string{"true"}}, io.Discard)
		if err != nil || code != 0 {
			t.Fatalf("Run on %s: code %d, error %v", l.Name, code, err)
		}
	}
	engines := p.Engines()
	for i, l := range leases {
		for name, e := range engines {
			left, err := e.LeftoverBuilds(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if on := slices.Contains(left, ids[i]); on != (name == l.Name) {
				t.Errorf("build %s placed on %s: found on %s: %v, want only on its own engine", ids[i], l.Name, name, on)
			}
		}
	}

	// The pool is full: a fifth build waits, and gets the slot a build on second gives back.
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	_, err := p.Acquire(ctx, "waiting-1", nil)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire on a full pool: got %v, want it to wait until its context ends", err)
	}
	var onSecond *pool.Lease
	for _, l := range leases {
		if l.Name == "second" {
			onSecond = l
		}
	}
	done := make(chan *pool.Lease, 1)
	go func() {
		l, err := p.Acquire(t.Context(), "waiting-2", nil)
		if err != nil {
			t.Errorf("Acquire after a release: %v", err)
		}
		done <- l
	}()
	onSecond.Release()
	select {
	case l := <-done:
		if l == nil || l.Name != "second" {
			t.Errorf("waiting build: got %v, want the slot freed on second", l)
		} else {
			l.Release()
		}
	case <-time.After(time.Minute):
		t.Fatal("a waiting build did not get the slot given back within a minute")
	}
}

func TestPoolLabels(t *testing.T) {
	p := twoEngines(t, 2, nil)
	for range 2 {
		if l, _ := acquire(t, p, []string{"big"}); l.Name != "second" {
			t.Errorf("Acquire([big]): got engine %s, want second", l.Name)
		}
	}
	_, err := p.Acquire(t.Context(), "no-such-label", []string{"gpu"})
	if !errors.Is(err, baleen.ErrInvalid) || !strings.Contains(err.Error(), "no engine has the labels [gpu]") {
		t.Errorf("Acquire([gpu]): got %v, want ErrInvalid at once", err)
	}

	var text bytes.Buffer
	st := p.Status()
	if err := pool.RenderStatus(&text, st); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "second") || !strings.Contains(text.String(), "2/2") {
		t.Errorf("engines table: got\n%s\nwant second with 2/2 slots in use", text.String())
	}
	if len(st) != 2 || st[1].InUse != 2 || st[0].InUse != 0 {
		t.Errorf("Status: got %+v, want first with 0 and second with 2 builds", st)
	}
}

func TestPoolEngineDiesMidBuild(t *testing.T) {
	var victim baleen.BuildID
	finished := func(id baleen.BuildID) bool { return id == victim }
	// second has more free slots than first, so it is chosen whenever it is up.
	p := twoEngines(t, 3, finished)
	l, id := acquire(t, p, nil)
	victim = id // before the health checks start, which read it
	ctx, stopHealth := context.WithCancel(t.Context())
	defer stopHealth()
	go p.Run(ctx)
	if l.Name != "second" {
		t.Fatalf("first build: got engine %s, want second (most free slots)", l.Name)
	}
	bb := dockertest.BusyboxImageOn(t, l.Engine)
	if err := l.Engine.Setup(t.Context(), id); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	out := &dockertest.Buffer{}
	done := make(chan error, 1)
	go func() {
		_, _, err := l.Engine.Run(t.Context(), id, baleen.ContainerSpec{Role: "test", Image: bb,
			Cmd: []string{"sh", "-c", "echo running; sleep 300"}}, out)
		done <- err
	}()
	waitFor(t, "the test container's output", func() bool { return strings.Contains(out.String(), "running") })

	// Registered before the kill, so that the engine is back whatever the test does next.
	t.Cleanup(func() { dockertest.SecondEngineScript(t, "start") })
	dockertest.SecondEngineScript(t, "kill")
	select {
	case err := <-done:
		if !errors.Is(err, baleen.ErrUnavailable) || !strings.Contains(err.Error(), "engine second") {
			t.Errorf("Run on an engine that died: got %v, want ErrUnavailable naming engine second", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("Run on an engine that died did not return within two minutes")
	}
	l.Release()
	waitFor(t, "second marked down", func() bool { return state(p, "second") == pool.StateDown })

	next, _ := acquire(t, p, nil)
	if next.Name != "first" {
		t.Errorf("build after second died: got engine %s, want first", next.Name)
	}
	next.Release()

	dockertest.SecondEngineScript(t, "start")
	waitFor(t, "second back up", func() bool { return state(p, "second") == pool.StateUp })
	left, err := p.Engines()["second"].LeftoverBuilds(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(left, id) {
		t.Errorf("second after it came back: got leftovers of build %s, want them swept", id)
	}
	if l, _ := acquire(t, p, nil); l.Name != "second" {
		t.Errorf("build after second came back: got engine %s, want second", l.Name)
	}
}

// state is the pool's state of engine name.
func state(p *pool.Pool, name string) pool.State {
	for _, s := range p.Status() {
		if s.Name == name {
			return s.State
		}
	}
	return ""
}

// waitFor polls cond every 100ms for up to two minutes, failing the test with what at the deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited two minutes for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
