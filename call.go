package baleen

import "io"

// Call is one ssh command that is not git's own (`ssh -p PORT HOST builds api`), from a client that proved
// it holds a key. The SSH server (gitd) makes it; the operator commands (package commands) answer it. The
// context it runs under is passed beside it and ends when the client disconnects or the server closes.
type Call struct {
	// Identity is who the caller is: the user of the key the client proved it holds, as it stood when the
	// connection opened.
	Identity
	// Args is the command line split into words as a shell would, without expanding anything; empty when
	// the client asked for a shell.
	Args []string
	// Stdin, Stdout and Stderr are the client's streams.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}
