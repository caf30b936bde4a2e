package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/gitd"
)

// flood holds connections to a server that never authenticate, from given local addresses. Each of its
// workers dials, reads until the server closes the connection (refused at once, evicted, or timed out), and
// dials again after about a second, until stop: the flood keeps its pressure for as long as it runs.
type flood struct {
	stopped chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
	dials   atomic.Int64 // connections the flood made
	closes  atomic.Int64 // of them, the ones the server closed
	open    atomic.Int64 // flood connections open right now
	failed  atomic.Int64 // dials that failed
	mu      sync.Mutex
	conns   map[net.Conn]bool
}

// startFlood starts one worker per entry of from, each dialing addr from that local address.
func startFlood(addr string, from []net.IP) *flood {
	f := &flood{stopped: make(chan struct{}), conns: map[net.Conn]bool{}}
	for _, ip := range from {
		f.wg.Go(func() { f.worker(addr, ip) })
	}
	return f
}

func (f *flood) worker(addr string, ip net.IP) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 10 * time.Second}
	for {
		if c, err := d.Dial("tcp", addr); err != nil {
			f.failed.Add(1)
		} else {
			f.hold(c)
		}
		select {
		case <-f.stopped:
			return
		case <-time.After(time.Duration(500+rand.IntN(1000)) * time.Millisecond):
		}
	}
}

// hold keeps c open, saying nothing, until the server closes it or the flood stops.
func (f *flood) hold(c net.Conn) {
	f.dials.Add(1)
	f.open.Add(1)
	defer f.open.Add(-1)
	f.mu.Lock()
	select {
	case <-f.stopped:
		f.mu.Unlock()
		c.Close()
		return
	default:
	}
	f.conns[c] = true
	f.mu.Unlock()
	_, _ = io.Copy(io.Discard, c)
	f.mu.Lock()
	stopping := !f.conns[c]
	delete(f.conns, c)
	f.mu.Unlock()
	if !stopping {
		f.closes.Add(1)
	}
	c.Close()
}

// stop closes every flood connection and waits for the workers to end.
func (f *flood) stop() {
	f.once.Do(func() {
		f.mu.Lock()
		close(f.stopped)
		for c := range f.conns {
			f.conns[c] = false
			c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
}

// openFDs counts the descriptors a process has open.
func openFDs(pid int) (int, error) {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, fmt.Errorf("count descriptors of %d: %w", pid, err)
	}
	return len(entries), nil
}

// floodSources is the flood's local addresses, one per connection: half from 127.0.0.2 and 127.0.0.3, as
// one or two hosts would flood, and half from 127.0.1.1 to 127.0.1.8: ten addresses whose per-address
// caps add up to more than the global cap, so that the flood fills it.
func floodSources(n int) []net.IP {
	var from []net.IP
	for i := range n / 2 {
		from = append(from, net.IPv4(127, 0, 0, byte(2+i%2)))
	}
	for i := range n - n/2 {
		from = append(from, net.IPv4(127, 0, 1, byte(1+i%8)))
	}
	return from
}

// manySources is a flood's local addresses spread over addresses of 127.1.0.0/16, perAddress connections
// from each: more addresses than the global cap of unauthenticated connections, each holding under the
// per-address cap, so that fairness by address alone cannot tell the flood from a client.
func manySources(addresses, perAddress int) []net.IP {
	var from []net.IP
	for i := range addresses * perAddress {
		a := i % addresses
		from = append(from, net.IPv4(127, 1, byte(a/250), byte(1+a%250)))
	}
	return from
}

// TestFloodOfUnauthenticatedConnections is the regression test of a lock-out: two clients holding 20,100
// connections that never authenticated used up the server's descriptors, and nobody with a key could log
// in. Now 2,000 such connections, from 127.0.0.2, 127.0.0.3 and eight addresses of 127.0.1.0/24, do not
// stop an authorized user on 127.0.0.1 from running `ssh projects` with OpenSSH's client, nor a build that
// runs on the real engine from finishing and its push from answering; and the server holds at most its
// global cap of them: its open descriptors stay within that of what it had before the flood.
func TestFloodOfUnauthenticatedConnections(t *testing.T) {
	s := floodDuringBuild(t, "flood", floodSources(2000), func(s *server) {
		if res := s.ssh("projects"); res.code != 0 || !strings.Contains(res.stdout, "flood") {
			t.Errorf("ssh projects from 127.0.0.1 during the flood: %s", res)
		}
	})
	// Ten flood addresses fill the global cap: the user got in by taking the slot of one of them.
	if !strings.Contains(s.log.String(), "closed to make room") {
		t.Errorf("the server never evicted a flood connection for another address: the flood did not fill the global cap")
	}
}

// TestFloodFromManyAddresses: 2,100 connections that never authenticate, seven from each of 300 addresses
// (more addresses than the global cap, each under the per-address cap), do not stop an authorized user on
// 127.0.0.1 from running `ssh projects` with OpenSSH's client, again and again, nor a running build from
// finishing; the server's descriptors stay bounded as in TestFloodOfUnauthenticatedConnections.
//
// Fairness by address cannot help here (every address holds one slot); eviction by handshake progress
// does: the flood's connections say nothing, and OpenSSH's client sends its version line at once. The
// guarantee starts at those first bytes (docs/git.md), so a client starved of CPU between its connect and
// its first write may still lose its slot: each run may take up to three attempts, and logs how many it
// took. Before eviction by progress, three of five runs failed all three attempts.
func TestFloodFromManyAddresses(t *testing.T) {
	const runs, attempts = 5, 3
	s := floodDuringBuild(t, "many", manySources(300, 7), func(s *server) {
		for run := range runs {
			var res result
			tries := 0
			for tries < attempts {
				tries++
				if res = s.ssh("projects"); res.code == 0 {
					break
				}
			}
			t.Logf("ssh projects, run %d: %d attempt(s), exit %d", run+1, tries, res.code)
			if res.code != 0 || !strings.Contains(res.stdout, "many") {
				t.Errorf("ssh projects from 127.0.0.1 during the flood, run %d, %d attempts: %s", run+1, tries, res)
			}
		}
	})
	if !strings.Contains(s.log.String(), "closed to make room") {
		t.Errorf("the server never evicted a flood connection for another address: the flood did not fill the global cap")
	}
}

// floodDuringBuild starts a server and a push whose build waits in its test stage, floods the server with
// connections that never authenticate from the local addresses of from, one connection each, and runs
// user, the authorized client's part, once the flood is on. Then it releases the build and checks that
// it passes and its push answers, and that the server's open descriptors stayed within the global cap of
// unauthenticated connections of what it had before the flood. It returns the server, for its log.
func floodDuringBuild(t *testing.T, project string, from []net.IP, user func(s *server)) *server {
	t.Helper()
	s := newServer(t)
	s.start()
	instance := readInstance(t, s.data)
	r := s.newRepo(projectFiles("e2e-"+project, gatedTest))
	push, stderr := r.startPush(s.url(project), "main")
	waitLine(t, stderr, "remote: gated test started")

	pid := s.cmd.Process.Pid
	before, err := openFDs(pid)
	if err != nil {
		t.Fatal(err)
	}
	// What the server may hold for the flood: the global cap of unauthenticated connections, and the one
	// it is accepting. The slack is for the user's own session and what the running build opens and
	// closes (engine API connections, git's pipes).
	const slack = 32
	bound := before + gitd.DefaultMaxUnauthenticated + 1 + slack

	f := startFlood(s.addr, from)
	defer f.stop()
	var peak atomic.Int64
	var sampleErr error
	sampled := make(chan struct{})
	stopSampling := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			n, err := openFDs(pid)
			if err != nil {
				sampleErr = err
				return
			}
			if int64(n) > peak.Load() {
				peak.Store(int64(n))
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	// The flood is on once every worker has connected at least once and the server has closed most of
	// them: the caps hold at most 64 at a time.
	connections := int64(len(from))
	waitFor(t, "the flood's first wave", func() bool {
		return f.dials.Load() >= connections && f.closes.Load() >= connections/2
	})

	user(s)
	s.release(baleen.BuildID(project + "-1-" + instance))
	rest := waitLine(t, stderr, "remote: PASSED in")
	if err := push.Wait(); err != nil {
		t.Errorf("push during the flood: %v\n%s", err, rest)
	}
	if got := s.waitFinal(project, 1); got != baleen.StatusPassed {
		t.Errorf("build during the flood: got %s, want passed", got)
	}
	close(stopSampling)
	<-sampled
	if sampleErr != nil {
		t.Fatal(sampleErr)
	}
	dials, closes, failed := f.dials.Load(), f.closes.Load(), f.failed.Load()
	f.stop()

	t.Logf("flood: %d connections made, %d closed by the server, %d dials failed; server descriptors: %d before, peak %d, bound %d",
		dials, closes, failed, before, peak.Load(), bound)
	if got := peak.Load(); got > int64(bound) {
		t.Errorf("server's open descriptors during the flood: got a peak of %d, want at most %d (%d before + cap %d + 1 + %d)",
			got, bound, before, gitd.DefaultMaxUnauthenticated, slack)
	}
	return s
}
