package gitd

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// loopbackConns returns n server-side connections of a 127.0.0.1 listener, each dialed from the local
// address from (any of 127/8).
func loopbackConns(t *testing.T, ln net.Listener, from string, n int) []net.Conn {
	t.Helper()
	var conns []net.Conn
	for range n {
		_, server := loopbackPair(t, ln, from)
		conns = append(conns, server)
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
			t.Cleanup(func() { a.done() })
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
	// Its key check finishing now (it raced the eviction) does not let it on to a session.
	if held[0].done() {
		t.Error("the evicted connection's authentication was let through")
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
	if !held[2].done() {
		t.Error("a connection still counted was refused its authentication")
	}
}

// loopbackPair dials a 127.0.0.1 listener from the local address from and returns the client's end and
// the server's.
func loopbackPair(t *testing.T, ln net.Listener, from string) (client, server net.Conn) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	client, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial from %s: %v", from, err)
	}
	t.Cleanup(func() { client.Close() })
	if server, err = ln.Accept(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return client, server
}

// TestPreauthEvictsTheLeastAdvanced: past the global cap, with every address holding one connection (a
// flood from many addresses), a newcomer takes the slot of a connection that has sent nothing, however new,
// before one that has sent bytes (even bytes the server has not read yet), and one that has finished the
// key exchange only when every other has too. This is what keeps a flood that says nothing, from any number
// of addresses, from evicting a client in the middle of its handshake.
func TestPreauthEvictsTheLeastAdvanced(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := &preauth{max: 3, perSource: 8, timeout: time.Minute, bySource: map[string][]*pending{}}
	next := 1
	admit := func() (net.Conn, *pending, *pending) {
		t.Helper()
		next++
		client, server := loopbackPair(t, ln, fmt.Sprintf("127.0.2.%d", next))
		a, e := p.admit(server)
		if a == nil {
			t.Fatalf("connection from 127.0.2.%d refused; want admitted", next)
		}
		t.Cleanup(func() { a.done() })
		return client, a, e
	}

	talkingClient, talking, _ := admit()
	_, authenticating, _ := admit()
	_, silent, _ := admit()
	// The client's version line, which the server has not read yet.
	if _, err := talkingClient.Write([]byte("SSH-2.0-OpenSSH_9.2\r\n")); err != nil {
		t.Fatal(err)
	}
	authenticating.reached(stageAuthenticating)
	waitInput(t, talking.conn)

	_, newcomer, evicted := admit()
	if evicted != silent {
		t.Fatalf("newcomer at the cap: evicted %s; want the silent connection, not the older ones that talk or authenticate", describe(evicted))
	}
	if got := stage(talking.stage.Load()); got != stageTalking {
		t.Errorf("connection with unread bytes: stage %d after the eviction; want talking (%d)", got, stageTalking)
	}
	// The newest is the only silent one: it goes before the oldest, which talks.
	if _, _, evicted = admit(); evicted != newcomer {
		t.Fatalf("second newcomer: evicted %s; want the silent first newcomer", describe(evicted))
	}
	// No connection is silent now but the last newcomer: make it talk, and the oldest that talks goes.
	for _, list := range p.bySource {
		for _, c := range list {
			if stage(c.stage.Load()) == stageSilent {
				c.reached(stageTalking)
			}
		}
	}
	if _, _, evicted = admit(); evicted != talking {
		t.Fatalf("newcomer when none is silent: evicted %s; want the oldest that talks", describe(evicted))
	}
	if _, err := talking.conn.Read(make([]byte, 1)); err == nil {
		t.Error("the evicted connection is still open")
	}
	// Every pending connection but one talks; once all have finished the key exchange, the oldest goes.
	for _, list := range p.bySource {
		for _, c := range list {
			c.reached(stageAuthenticating)
		}
	}
	if _, _, evicted = admit(); evicted != authenticating {
		t.Fatalf("newcomer when all have finished the key exchange: evicted %s; want the oldest", describe(evicted))
	}
	if p.total != 3 {
		t.Errorf("count at the end: got %d, want the global cap 3", p.total)
	}
}

// waitInput waits until bytes the client wrote wait unread in conn.
func waitInput(t *testing.T, conn net.Conn) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !hasInput(conn) {
		if time.Now().After(deadline) {
			t.Fatal("the client's bytes never reached the server's socket")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// describe names a pending connection in a failure message.
func describe(c *pending) string {
	if c == nil {
		return "none"
	}
	return fmt.Sprintf("#%d from %s at stage %d", c.seq, c.source, c.stage.Load())
}
