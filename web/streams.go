package web

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
)

// maxStreams is how many live streams (a build page's live log, the API's followed log) one client may hold
// open at once: far more than the tabs a person watches (or a wall of dashboards behind one address), few
// enough that one client cannot tie up the server's goroutines and connections without end.
const maxStreams = 256

// streamLimit counts the open live streams of each client. Its methods are safe for concurrent use.
type streamLimit struct {
	max  int
	mu   sync.Mutex
	open map[string]int
}

// acquire takes one of client's streams; false when it holds max already.
func (l *streamLimit) acquire(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[client] >= l.max {
		return false
	}
	l.open[client]++
	return true
}

// release gives back one of client's streams.
func (l *streamLimit) release(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[client]--; l.open[client] <= 0 {
		delete(l.open, client)
	}
}

// client names who holds a stream: the key of a signed-in caller, else the address the request came from
// (the one a trusted proxy says it came from).
func (s *Server) client(r *http.Request, c caller) string {
	if c.signedIn {
		return "key " + firstNonEmpty(c.id.Fingerprint, c.id.User)
	}
	if s.fromProxy(r) {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			hops := strings.Split(xff, ",")
			return "addr " + strings.TrimSpace(hops[len(hops)-1])
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "addr " + host
}

// errTooManyStreams refuses a stream to a client that holds maxStreams (429).
var errTooManyStreams = errors.New("too many live streams open from this client: close some build pages and try again")

// holdStream takes a stream for the caller until the returned release is called.
func (s *Server) holdStream(r *http.Request, c caller) (release func(), err error) {
	client := s.client(r, c)
	if !s.streams.acquire(client) {
		return nil, errTooManyStreams
	}
	return func() { s.streams.release(client) }, nil
}
