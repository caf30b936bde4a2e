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

// preauth counts the connections that have not authenticated yet, in all and per source address, and
// refuses new ones past the caps, so that nobody without a key can take every connection slot: a client
// that has authenticated no longer counts. It is safe for concurrent use.
type preauth struct {
	max, perSource int
	timeout        time.Duration

	mu       sync.Mutex
	total    int
	bySource map[string]int
}

// pending is one connection that counts against the caps until it authenticates or closes.
type pending struct {
	p      *preauth
	source string
	timer  *time.Timer
	once   sync.Once
}

// admit counts conn in, or returns nil when a cap is reached. The connection is closed if it has not
// authenticated within the timeout.
func (p *preauth) admit(conn net.Conn) *pending {
	source := conn.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(source); err == nil {
		source = host
	}
	p.mu.Lock()
	if p.total >= p.max || p.bySource[source] >= p.perSource {
		p.mu.Unlock()
		return nil
	}
	p.total++
	p.bySource[source]++
	p.mu.Unlock()
	c := &pending{p: p, source: source}
	// A timer, not a deadline: gliderlabs resets the connection's deadlines on every read and write.
	c.timer = time.AfterFunc(p.timeout, func() { _ = conn.Close() })
	return c
}

// done takes the connection out of the count: it authenticated (stop the timer) or closed.
func (c *pending) done(authenticated bool) {
	c.once.Do(func() {
		if authenticated {
			c.timer.Stop()
		}
		c.p.mu.Lock()
		defer c.p.mu.Unlock()
		c.p.total--
		if c.p.bySource[c.source]--; c.p.bySource[c.source] <= 0 {
			delete(c.p.bySource, c.source)
		}
	})
}

// countedConn takes its connection out of the count when it closes.
type countedConn struct {
	net.Conn
	pending *pending
}

func (c *countedConn) Close() error {
	c.pending.done(false)
	return c.Conn.Close()
}

// pendingKey keys, in the ssh.Context, the connection's *pending.
type pendingKey struct{}

// connCallback admits a new connection under the caps; gliderlabs closes the ones it refuses (nil).
func (s *Server) connCallback(ctx ssh.Context, conn net.Conn) net.Conn {
	c := s.preauth.admit(conn)
	if c == nil {
		s.log.Warn("connection refused: too many unauthenticated connections", "host", conn.RemoteAddr().String())
		return nil
	}
	ctx.SetValue(pendingKey{}, c)
	return &countedConn{Conn: conn, pending: c}
}

// authenticated takes a connection out of the unauthenticated count.
func authenticated(ctx ssh.Context) {
	if c, ok := ctx.Value(pendingKey{}).(*pending); ok {
		c.done(true)
	}
}
