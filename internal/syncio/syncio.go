// Package syncio holds the one writer that several goroutines may share.
package syncio

import (
	"io"
	"sync"
)

// Writer serialises the writes of several goroutines to one io.Writer, so that their writes never
// interleave within one call.
type Writer struct {
	mu sync.Mutex
	w  io.Writer
}

// NewWriter returns a Writer that writes to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write writes p to the underlying writer while no other Write runs.
func (s *Writer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
