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
type pathScrubber struct{ r *strings.Replacer }

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
	var args []string
	for _, p := range pairs {
		args = append(args, p.from, p.to)
	}
	return &pathScrubber{r: strings.NewReplacer(args...)}
}

// String scrubs s.
func (p *pathScrubber) String(s string) string { return p.r.Replace(s) }

// scrubWriter passes what is written on to w scrubbed, a line at a time (a line ends at \n or \r, as
// git's progress does), so that a path is never split between two writes. Flush writes out an unfinished
// last line. It is safe for concurrent use.
type scrubWriter struct {
	mu  sync.Mutex
	w   io.Writer
	p   *pathScrubber
	buf []byte
}

// maxScrubLine bounds the text held back waiting for the end of a line.
const maxScrubLine = 64 << 10

func (p *pathScrubber) writer(w io.Writer) *scrubWriter { return &scrubWriter{w: w, p: p} }

func (s *scrubWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, b...)
	end := bytes.LastIndexAny(s.buf, "\r\n") + 1
	if end == 0 && len(s.buf) > maxScrubLine {
		end = len(s.buf)
	}
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
