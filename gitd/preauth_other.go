//go:build !linux

package gitd

import "net"

// hasInput says whether bytes wait unread in conn's socket; where it cannot be asked, it says no, and a
// connection counts as talking from the server's first read of its bytes.
func hasInput(net.Conn) bool { return false }
