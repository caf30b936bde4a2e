package gitd

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gliderlabs/ssh"
)

// Defaults of the caps on connections that have not authenticated yet (OpenSSH's MaxStartups and
// LoginGraceTime play the same part).
const (
	DefaultMaxUnauthenticated          = 64
	DefaultMaxUnauthenticatedPerSource = 8
	DefaultHandshakeTimeout            = 20 * time.Second
)

// preauth counts the connections that have not authenticated yet, in all and per source address, so that
// nobody without a key can take every connection slot: a client that has authenticated no longer counts.
// It is safe for concurrent use.
//
// Past the per-source cap a new connection is refused. Past the global cap it is not refused outright: it
// takes the slot of a pending connection that has got the least far in its handshake (silent, then
// talking, then authenticating: see stage), and among those, the oldest of the address that holds the
// most, as long as that address holds more than the newcomer's does (max-min fairness by address). A flood
// from a few addresses therefore never keeps a client from another address out; a flood from many
// addresses that sends nothing never evicts a client that has sent its first bytes; and a client that has
// finished the key exchange is evicted only when every other pending connection has too. OpenSSH's
// MaxStartups drops at random instead, which shuts a legitimate client out with the same odds as the
// flood's own connections.
type preauth struct {
	max, perSource int
	timeout        time.Duration

	mu       sync.Mutex
	total    int
	seq      uint64                // of the last admitted connection
	bySource map[string][]*pending // oldest first
}

// stage is how far a pending connection has got in its handshake; a newcomer evicts from the lowest.
type stage int32

const (
	// stageSilent: connected, and has sent nothing.
	stageSilent stage = iota
	// stageTalking: has sent bytes (its version line, the key exchange).
	stageTalking
	// stageAuthenticating: has finished the key exchange and asked to authenticate.
	stageAuthenticating
)

// pending is one connection that counts against the caps until it authenticates, closes or is evicted.
type pending struct {
	p       *preauth
	source  string
	conn    net.Conn
	timer   *time.Timer
	seq     uint64 // admission order
	counted bool   // guarded by p.mu
	evicted bool   // guarded by p.mu: a newcomer took its slot; it may no longer authenticate
	stage   atomic.Int32
}

// reached records that c has got at least as far as st.
func (c *pending) reached(st stage) {
	for {
		cur := c.stage.Load()
		if cur >= int32(st) || c.stage.CompareAndSwap(cur, int32(st)) {
			return
		}
	}
}

// admit counts conn in, or returns nil when it is refused. It returns the connection it evicted to make
// room, if any, already closed. The connection is closed if it has not authenticated within the timeout.
func (p *preauth) admit(conn net.Conn) (admitted, evicted *pending) {
	source := conn.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(source); err == nil {
		source = host
	}
	c := &pending{p: p, source: source, conn: conn, counted: true}
	p.mu.Lock()
	have := len(p.bySource[source])
	if have >= p.perSource {
		p.mu.Unlock()
		return nil, nil
	}
	if p.total >= p.max {
		if evicted = p.victimLocked(have); evicted == nil {
			p.mu.Unlock()
			return nil, nil
		}
		p.removeLocked(evicted)
		evicted.evicted = true
	}
	p.total++
	p.seq++
	c.seq = p.seq
	p.bySource[source] = append(p.bySource[source], c)
	// A timer, not a deadline: gliderlabs resets the connection's deadlines on every read and write. Set
	// under the lock, so that done never sees it nil.
	c.timer = time.AfterFunc(p.timeout, func() { _ = conn.Close() })
	p.mu.Unlock()
	if evicted != nil {
		evicted.timer.Stop()
		_ = evicted.conn.Close()
	}
	return c, evicted
}

// victimLocked picks the connection a newcomer whose address already holds have pending connections may
// evict, among those of addresses that hold more than have: the least far in its handshake, then of the
// address that holds the most, then the oldest. It returns nil when there is none.
//
// A connection that looks silent is asked whether bytes wait unread in its socket: the server's reader may
// not have got to a client's first bytes yet, and that client must not lose its slot for it.
func (p *preauth) victimLocked(have int) *pending {
	for {
		var victim *pending
		var victimHolds int
		for _, list := range p.bySource {
			if len(list) <= have {
				continue
			}
			for _, c := range list {
				if victim == nil || evictsBefore(c, len(list), victim, victimHolds) {
					victim, victimHolds = c, len(list)
				}
			}
		}
		if victim == nil || stage(victim.stage.Load()) != stageSilent || !hasInput(victim.conn) {
			return victim
		}
		victim.reached(stageTalking)
	}
}

// evictsBefore says whether a, of an address holding aHolds, goes before b, of one holding bHolds.
func evictsBefore(a *pending, aHolds int, b *pending, bHolds int) bool {
	if as, bs := a.stage.Load(), b.stage.Load(); as != bs {
		return as < bs
	}
	if aHolds != bHolds {
		return aHolds > bHolds
	}
	return a.seq < b.seq
}

// removeLocked takes c out of the count.
func (p *preauth) removeLocked(c *pending) {
	if !c.counted {
		return
	}
	c.counted = false
	p.total--
	list := p.bySource[c.source]
	for i, x := range list {
		if x == c {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(p.bySource, c.source)
	} else {
		p.bySource[c.source] = list
	}
}

// done takes the connection out of the count, and stops its timer: it authenticated or closed. It
// returns false when the connection had been evicted: its close is under way, and it must not go on.
func (c *pending) done() bool {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	c.timer.Stop()
	c.p.removeLocked(c)
	return !c.evicted
}

// countedConn takes its connection out of the count when it closes, and records that it talks when it
// first reads bytes from it.
type countedConn struct {
	net.Conn
	pending *pending
}

func (c *countedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.pending.reached(stageTalking)
	}
	return n, err
}

func (c *countedConn) Close() error {
	c.pending.done()
	return c.Conn.Close()
}

// pendingKey keys, in the ssh.Context, the connection's *pending.
type pendingKey struct{}

// gatedListener admits each connection under the caps as it accepts it, and closes the ones it refuses
// before it accepts the next: the server holds at most the global cap of unauthenticated connections,
// plus the one being accepted, however fast they come.
type gatedListener struct {
	net.Listener
	s *Server
}

func (l gatedListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c, evicted := l.s.preauth.admit(conn)
		if evicted != nil {
			l.s.log.Warn("unauthenticated connection closed to make room for another address",
				"host", evicted.conn.RemoteAddr().String())
		}
		if c == nil {
			l.s.log.Warn("connection refused: too many unauthenticated connections", "host", conn.RemoteAddr().String())
			_ = conn.Close()
			continue
		}
		return &countedConn{Conn: conn, pending: c}, nil
	}
}

// connCallback keeps, in the connection's context, its count against the caps.
func (s *Server) connCallback(ctx ssh.Context, conn net.Conn) net.Conn {
	if c, ok := conn.(*countedConn); ok {
		ctx.SetValue(pendingKey{}, c.pending)
	}
	return conn
}

// keyExchanged records that a connection has finished the key exchange and asked to authenticate.
func keyExchanged(ctx ssh.Context) {
	if c, ok := ctx.Value(pendingKey{}).(*pending); ok {
		c.reached(stageAuthenticating)
	}
}

// authenticated takes a connection out of the unauthenticated count. It returns ErrEvicted when a
// newcomer took the connection's slot before it authenticated (its close may not have happened yet): an
// evicted connection never goes on to a session.
func authenticated(ctx ssh.Context) error {
	if c, ok := ctx.Value(pendingKey{}).(*pending); ok && !c.done() {
		return errEvicted
	}
	return nil
}

// errEvicted refuses the authentication of a connection a newcomer evicted.
var errEvicted = errors.New("connection evicted before it authenticated: too many unauthenticated connections")
