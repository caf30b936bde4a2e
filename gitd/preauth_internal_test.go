package gitd

import (
	"net"
	"testing"
	"time"
)

// loopbackConns returns n server-side connections of a 127.0.0.1 listener, each dialed from the local
// address from (any of 127/8).
func loopbackConns(t *testing.T, ln net.Listener, from string, n int) []net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	var conns []net.Conn
	for range n {
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatalf("dial from %s: %v", from, err)
		}
		t.Cleanup(func() { c.Close() })
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		conns = append(conns, s)
	}
	return conns
}

// TestPreauthFairEviction: past the global cap, a newcomer takes the oldest slot of the address that holds
// the most, never one of an address that holds no more than its own, and the per-address cap still refuses.
// This is what keeps a flood from a few addresses from shutting out a client at another address.
func TestPreauthFairEviction(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := &preauth{max: 4, perSource: 3, timeout: time.Minute, bySource: map[string][]*pending{}}
	admit := func(c net.Conn) (*pending, *pending) {
		a, e := p.admit(c)
		if a != nil {
			t.Cleanup(a.done)
		}
		return a, e
	}

	flood := loopbackConns(t, ln, "127.0.0.2", 4)
	var held []*pending
	for i, c := range flood[:3] {
		a, e := admit(c)
		if a == nil || e != nil {
			t.Fatalf("connection %d of 127.0.0.2 under both caps: got admitted %v, evicted %v; want admitted, none evicted", i, a != nil, e)
		}
		held = append(held, a)
	}
	if a, _ := admit(flood[3]); a != nil {
		t.Fatal("fourth connection of 127.0.0.2: admitted past the per-address cap of 3")
	}

	other := loopbackConns(t, ln, "127.0.0.3", 2)
	if a, e := admit(other[0]); a == nil || e != nil {
		t.Fatalf("first connection of 127.0.0.3 under the global cap: got admitted %v, evicted %v", a != nil, e != nil)
	}
	// The global cap (4) is reached: 127.0.0.3's second takes 127.0.0.2's oldest slot.
	a, e := admit(other[1])
	if a == nil || e != held[0] {
		t.Fatalf("second connection of 127.0.0.3 at the global cap: got admitted %v, evicted the oldest of 127.0.0.2 %v", a != nil, e == held[0])
	}
	if _, err := held[0].conn.Read(make([]byte, 1)); err == nil {
		t.Error("the evicted connection is still open")
	}
	if got := len(p.bySource["127.0.0.2"]); got != 2 {
		t.Errorf("127.0.0.2's count after the eviction: got %d, want 2", got)
	}

	// Two addresses at two each: a third address (holds none) may evict, 127.0.0.3 (holds two) may not.
	user := loopbackConns(t, ln, "127.0.0.1", 1)
	if a, e := admit(user[0]); a == nil || e == nil || e.source != "127.0.0.2" {
		t.Fatalf("127.0.0.1 at the global cap: got admitted %v, evicted %v; want a slot of 127.0.0.2", a != nil, e)
	}
	more := loopbackConns(t, ln, "127.0.0.3", 1)
	if a, e := admit(more[0]); a != nil || e != nil {
		t.Errorf("127.0.0.3 holding as many as anyone at the global cap: got admitted %v, evicted %v; want refused", a != nil, e)
	}
	if p.total != 4 {
		t.Errorf("count at the end: got %d, want the global cap 4", p.total)
	}
}
