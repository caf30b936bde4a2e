package gitd_test

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/baleen-ci/baleen/gitd"
)

// TestPreauthKeepsAClientPastItsKeyExchange: at the global cap of unauthenticated connections, a client
// that has finished the key exchange keeps its slot, older though it is, while newcomers from other
// addresses take the slots of connections that have only sent their version line; then it authenticates
// and runs its command.
func TestPreauthKeepsAClientPastItsKeyExchange(t *testing.T) {
	e := newEnvWith(t, func(c *gitd.Config) { c.MaxUnauthenticated = 2 })
	asked, release := make(chan struct{}), make(chan struct{})
	// The client waits before it offers its key: the key exchange is done, the authentication is not.
	held := gossh.PublicKeysCallback(func() ([]gossh.Signer, error) {
		close(asked)
		<-release
		return []gossh.Signer{e.key.signer}, nil
	})
	type dialed struct {
		c   *gossh.Client
		err error
	}
	done := make(chan dialed, 1)
	go func() {
		c, err := e.dial(held)
		done <- dialed{c, err}
	}()
	select {
	case <-asked:
	case d := <-done:
		t.Fatalf("the client ended before authenticating: %v", d.err)
	case <-time.After(time.Minute):
		t.Fatal("the client never got to authenticate")
	}

	// Connections that send a version line and go no further, each from an address of its own: the
	// first fills the cap, each next one takes the slot of the one before.
	var flood []net.Conn
	for i := range 3 {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 3, byte(1+i))}}
		c, err := d.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("SSH-2.0-flood\r\n")); err != nil {
			t.Fatal(err)
		}
		flood = append(flood, c)
	}
	for i, c := range flood[:2] {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		// Closed, with a FIN or, when the server had not read all the flood sent, a reset.
		_, err := io.Copy(io.Discard, c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("talking connection %d: still open after 10 s; want it closed by the server for a newcomer", i)
		}
	}

	close(release)
	d := <-done
	if d.err != nil {
		t.Fatalf("the client past its key exchange, after the flood: %v", d.err)
	}
	defer d.c.Close()
	if got := e.whoami(t, d.c); got != e.key.fingerprint() {
		t.Errorf("whoami: got %q, want %q", got, e.key.fingerprint())
	}
}
