package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// defaultSMTPStep bounds each step of an SMTP conversation when the sink gives no timeout.
const defaultSMTPStep = 15 * time.Second

// smtpDialer connects one mail attempt to its server: TCP, then TLS at once for implicit TLS (tls set).
// Every read and write on the connection gets its own deadline, step from when it starts, never past the
// attempt's; so a server that stops answering at any step (the greeting, the handshake, a command's reply)
// fails the attempt within step, and explain says what the silence most likely means.
type smtpDialer struct {
	addr string
	step time.Duration
	tls  *tls.Config // implicit TLS when set
	conn *stepConn   // the last connection made, for explain
}

func (d *smtpDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	end, ok := ctx.Deadline()
	if !ok {
		end = time.Now().Add(attemptTimeout)
	}
	dctx, cancel := context.WithTimeout(ctx, d.step)
	defer cancel()
	var nd net.Dialer
	raw, err := nd.DialContext(dctx, network, addr)
	if err != nil {
		return nil, err
	}
	c := &stepConn{Conn: raw, step: d.step, end: end}
	d.conn = c
	if d.tls == nil {
		return c, nil
	}
	tc := tls.Client(c, d.tls)
	if err := tc.HandshakeContext(dctx); err != nil {
		return nil, errors.Join(fmt.Errorf("tls handshake: %w", err), raw.Close())
	}
	return tc, nil
}

// explain turns a failed attempt's error into words that name the likely wrong setting.
func (d *smtpDialer) explain(err error, mode string) error {
	silent := d.conn != nil && d.conn.got.Load() == 0
	var rec tls.RecordHeaderError
	switch {
	case errors.As(err, &rec):
		return fmt.Errorf("send mail via %s: the server answered in plain text, not TLS: for a STARTTLS port (587, 25) set tls: starttls: %w", d.addr, err)
	case timedOut(err) && silent && mode != "tls":
		return fmt.Errorf("send mail via %s: no SMTP greeting within %s: if the server expects TLS from the first byte (port 465), set tls: tls: %w", d.addr, d.step, err)
	case timedOut(err) && silent:
		return fmt.Errorf("send mail via %s: no answer to the TLS handshake within %s: %w", d.addr, d.step, err)
	case timedOut(err):
		return fmt.Errorf("send mail via %s: the server stopped answering for %s: %w", d.addr, d.step, err)
	}
	return fmt.Errorf("send mail via %s: %w", d.addr, err)
}

func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// stepConn sets a fresh deadline before each read and write: step from now, but not after end. got counts
// the bytes read, to tell a server that never spoke from one that stopped.
type stepConn struct {
	net.Conn
	step time.Duration
	end  time.Time
	got  atomic.Int64
}

func (c *stepConn) deadline() time.Time {
	t := time.Now().Add(c.step)
	if c.end.Before(t) {
		return c.end
	}
	return t
}

func (c *stepConn) Read(p []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(c.deadline()); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	c.got.Add(int64(n))
	return n, err
}

func (c *stepConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(c.deadline()); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}
