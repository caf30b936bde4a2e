package gitd

import (
	"bytes"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// pathScrubber takes the server's own paths (the repositories, the hook's state, the data directory that
// holds them) out of what a client reads: git's messages and Baleen's errors may name files on the server,
// and where the server keeps its data is no business of a pusher. A repository's path becomes its name
// ("app.git"), any other of these paths "[server]".
type pathScrubber struct {
	r *strings.Replacer
	// from are the paths replaced, for a writer to hold back what may be the start of one.
	from []string
}

// newPathScrubber scrubs reposDir, stateDir and the directory that holds reposDir (the data directory), in
// the form given and with symbolic links resolved, since git may print either.
func newPathScrubber(reposDir, stateDir string) *pathScrubber {
	type pair struct{ from, to string }
	var pairs []pair
	add := func(dir, to string) {
		forms := []string{filepath.Clean(dir)}
		if abs, err := filepath.Abs(dir); err == nil {
			forms = append(forms, abs)
		}
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			forms = append(forms, real)
		}
		for _, f := range forms {
			if len(f) > 1 && filepath.IsAbs(f) {
				pairs = append(pairs, pair{f + "/", to}, pair{f, strings.TrimSuffix(to, "/")})
			}
		}
	}
	add(reposDir, "")
	add(stateDir, "[server]/")
	add(filepath.Dir(reposDir), "[server]/")
	// Longest first: a repository's path is scrubbed before the data directory that holds it.
	sort.SliceStable(pairs, func(i, j int) bool { return len(pairs[i].from) > len(pairs[j].from) })
	p := &pathScrubber{}
	var args []string
	for _, pr := range pairs {
		args = append(args, pr.from, pr.to)
		p.from = append(p.from, pr.from)
	}
	p.r = strings.NewReplacer(args...)
	return p
}

// String scrubs s.
func (p *pathScrubber) String(s string) string { return p.r.Replace(s) }

// heldBack is the length of the longest end of b that may be the start of a path to scrub (or a whole one
// that a longer one may extend).
func (p *pathScrubber) heldBack(b []byte) int {
	longest := 0
	for _, f := range p.from {
		for k := min(len(f), len(b)); k > longest; k-- {
			if bytes.HasPrefix([]byte(f), b[len(b)-k:]) {
				longest = k
				break
			}
		}
	}
	return longest
}

// scrubWriter passes what is written on to w scrubbed. It holds back only an end of its input that may be
// the start of a path, until the next write or Flush shows what follows, so output stays live and a path
// split between two writes is still scrubbed. It is safe for concurrent use.
type scrubWriter struct {
	mu  sync.Mutex
	w   io.Writer
	p   *pathScrubber
	buf []byte
}

func (p *pathScrubber) writer(w io.Writer) *scrubWriter { return &scrubWriter{w: w, p: p} }

func (s *scrubWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, b...)
	end := len(s.buf) - s.p.heldBack(s.buf)
	if end == 0 {
		return len(b), nil
	}
	out := s.p.String(string(s.buf[:end]))
	s.buf = append(s.buf[:0], s.buf[end:]...)
	if _, err := io.WriteString(s.w, out); err != nil {
		return len(b), err
	}
	return len(b), nil
}

// Flush writes out what is held back.
func (s *scrubWriter) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buf) == 0 {
		return nil
	}
	out := s.p.String(string(s.buf))
	s.buf = s.buf[:0]
	_, err := io.WriteString(s.w, out)
	return err
}
