package gitd

import (
	"net"
	"sync"
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
// takes the slot of the oldest pending connection of the address that holds the most, as long as that
// address holds more than the newcomer's does (max-min fairness by address). A flood from a few addresses
// therefore never keeps a client from another address out, and a flood spread over many addresses, one
// connection each, recycles its own slots oldest first, which leaves a newcomer its handshake's time before
// it is the oldest. OpenSSH's MaxStartups drops at random instead, which shuts a legitimate client out
// with the same odds as the flood's own connections.
type preauth struct {
	max, perSource int
	timeout        time.Duration

	mu       sync.Mutex
	total    int
	seq      uint64                // of the last admitted connection
	bySource map[string][]*pending // oldest first
}

// pending is one connection that counts against the caps until it authenticates, closes or is evicted.
type pending struct {
	p       *preauth
	source  string
	conn    net.Conn
	timer   *time.Timer
	seq     uint64 // admission order
	counted bool   // guarded by p.mu
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
// evict: the oldest of the address that holds the most (the oldest such address on a tie), provided it holds
// more than have. It returns nil when there is none.
func (p *preauth) victimLocked(have int) *pending {
	var victim *pending
	most := have
	for _, list := range p.bySource {
		if n := len(list); n > most || n == most && victim != nil && list[0].seq < victim.seq {
			victim, most = list[0], n
		}
	}
	return victim
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

// done takes the connection out of the count, and stops its timer: it authenticated or closed.
func (c *pending) done() {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	c.timer.Stop()
	c.p.removeLocked(c)
}

// countedConn takes its connection out of the count when it closes.
type countedConn struct {
	net.Conn
	pending *pending
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

// authenticated takes a connection out of the unauthenticated count.
func authenticated(ctx ssh.Context) {
	if c, ok := ctx.Value(pendingKey{}).(*pending); ok {
		c.done()
	}
}
