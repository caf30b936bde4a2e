package notify_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/notify"
)

// Each build of a branch's history, published in turn, is sent as the event the sink asks for: failed when
// the branch breaks, still_failing once per N red builds, fixed on the first green after red, passed on
// other greens; another branch's history does not interfere.
func TestEventsFollowTheBranchHistory(t *testing.T) {
	P, F := baleen.StatusPassed, baleen.StatusFailed
	history := []struct {
		branch string
		status baleen.Status
		want   map[string]string // sink name -> event; absent: nothing sent
	}{
		{"main", P, map[string]string{"all": "passed", "green": "passed"}},
		{"main", F, map[string]string{"all": "failed", "red": "failed"}},
		{"dev", P, map[string]string{"all": "passed", "green": "passed"}}, // another branch: main stays red
		{"main", F, nil},
		{"main", F, map[string]string{"all": "still_failing"}}, // third red in a row, every 2
		{"main", F, nil},
		{"main", F, map[string]string{"all": "still_failing"}},
		{"main", P, map[string]string{"all": "fixed", "green": "passed"}},
		{"main", P, map[string]string{"all": "passed", "green": "passed"}},
		{"main", baleen.StatusCancelled, nil},
		{"main", F, map[string]string{"all": "failed", "red": "failed"}},
	}
	st := openStore(t, t.TempDir())
	var rcvs = map[string]*receiver{}
	var sinks []notify.Sink
	for name, events := range map[string][]string{
		"all":   {"failed", "fixed", "passed", "still_failing"},
		"red":   {"failed"},
		"green": {"passed"},
	} {
		rcvs[name] = newReceiver(t, testSecret, 0)
		s := webhookSink(rcvs[name].URL, writeFile(t, "hook", testSecret), events...)
		s.Name, s.StillFailingEvery = name, 2
		sinks = append(sinks, s)
	}
	_, bus, _ := startNotifier(t, notify.Options{
		Sinks: validated(t, sinks...), Deliveries: st, History: st, Window: time.Millisecond, DigestAt: 100,
	})
	sent := map[string]int{}
	for i, h := range history {
		b := record(t, st, spec{branch: h.branch, status: h.status})
		bus.Publish(finished(b))
		for name, ev := range h.want {
			sent[name]++
			waitFor(t, "build "+strconv.Itoa(b.Number)+" at "+name, func() bool { return len(rcvs[name].received()) >= sent[name] })
			got := rcvs[name].received()[sent[name]-1]
			if got.Event != ev || got.Build != b.Number {
				t.Errorf("step %d, sink %s: got %s of #%d, want %s of #%d", i, name, got.Event, got.Build, ev, b.Number)
			}
		}
	}
	// Sinks that were to get nothing more got nothing more once the queue is empty.
	waitFor(t, "the queue to drain", func() bool {
		ds, _ := st.PendingDeliveries(context.Background())
		return len(ds) == 0
	})
	for name, r := range rcvs {
		if len(r.received()) != sent[name] {
			t.Errorf("sink %s: got %d notifications, want %d", name, len(r.received()), sent[name])
		}
	}
}

// A failing test that has failed since an earlier build of the run says since which.
func TestFailingTestsSayWhenTheyStarted(t *testing.T) {
	st := openStore(t, t.TempDir())
	rcv := newReceiver(t, testSecret, 0)
	s := webhookSink(rcv.URL, writeFile(t, "hook", testSecret), "still_failing")
	s.StillFailingEvery = 1
	_, bus, _ := startNotifier(t, notify.Options{Sinks: validated(t, s), Deliveries: st, History: st, Window: time.Millisecond})
	record(t, st, spec{status: baleen.StatusFailed, failures: []string{"a.T1"}})                      // #1
	record(t, st, spec{status: baleen.StatusFailed, failures: []string{"a.T1", "a.T2"}})              // #2
	b := record(t, st, spec{status: baleen.StatusFailed, failures: []string{"a.T1", "a.T2", "a.T3"}}) // #3
	bus.Publish(finished(b))
	waitFor(t, "the notification", func() bool { return len(rcv.received()) == 1 })
	got := rcv.received()[0]
	want := map[string]int{"a.T1": 1, "a.T2": 2, "a.T3": 3}
	if len(got.FailingTests) != 3 || got.FailingFor != 3 {
		t.Fatalf("got %d failing tests, failing for %d; want 3, 3", len(got.FailingTests), got.FailingFor)
	}
	for _, ft := range got.FailingTests {
		if ft.Since != want[ft.Name] {
			t.Errorf("%s: got since #%d, want #%d", ft.Name, ft.Since, want[ft.Name])
		}
	}
}

// Releases are sent as release_done, release_failed, or release_rolled_back when a host was returned.
func TestReleaseEvents(t *testing.T) {
	st := openStore(t, t.TempDir())
	rcv := newReceiver(t, testSecret, 0)
	s := webhookSink(rcv.URL, writeFile(t, "hook", testSecret), "release_done", "release_failed", "release_rolled_back")
	s.Projects = []string{"shop-*"}
	_, bus, _ := startNotifier(t, notify.Options{Sinks: validated(t, s), Deliveries: st, History: st, Window: time.Millisecond, DigestAt: 100})
	cases := []struct {
		project string
		rel     baleen.Release
		want    string
	}{
		{"shop-api", baleen.Release{Number: 1, Status: baleen.StatusPassed, Hosts: []baleen.HostResult{{Host: "a", Status: baleen.StatusPassed}}}, "release_done"},
		{"billing", baleen.Release{Number: 1, Status: baleen.StatusPassed}, ""}, // not a shop-* project
		{"shop-api", baleen.Release{Number: 2, Status: baleen.StatusFailed, Message: "registry down"}, "release_failed"},
		{"shop-api", baleen.Release{Number: 3, Status: baleen.StatusFailed, Message: "health check failed on b", Hosts: []baleen.HostResult{
			{Host: "a", Status: baleen.StatusFailed}, {Host: "b", Status: baleen.StatusFailed}, {Host: "c", Status: baleen.StatusQueued}}}, "release_rolled_back"},
	}
	n := 0
	for _, c := range cases {
		r := c.rel
		r.Project, r.Build, r.Target = c.project, 7, "prod"
		bus.Publish(baleen.Event{Kind: baleen.EventReleaseFinished, Project: c.project, Build: 7, Release: &r})
		if c.want == "" {
			continue
		}
		n++
		waitFor(t, c.want, func() bool { return len(rcv.received()) >= n })
		got := rcv.received()[n-1]
		if got.Event != c.want || got.Release == nil || got.Release.Number != r.Number || got.Project != c.project {
			t.Errorf("got %+v, want %s of release %d", got, c.want, r.Number)
		}
	}
	checkSchema(t, rcv.raw)
	if got := rcv.received()[n-1].Release.RolledBack; len(got) != 2 {
		t.Errorf("rolled back hosts: got %v, want [a b]", got)
	}
	if len(rcv.received()) != n {
		t.Errorf("got %d notifications, want %d", len(rcv.received()), n)
	}
}
