package syncio

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

// unsafeBuffer fails the test when two writes overlap.
type unsafeBuffer struct {
	t      *testing.T
	inside sync.Mutex
	buf    bytes.Buffer
}

func (u *unsafeBuffer) Write(p []byte) (int, error) {
	if !u.inside.TryLock() {
		u.t.Error("two writes overlapped")
		return len(p), nil
	}
	defer u.inside.Unlock()
	return u.buf.Write(p)
}

func TestWritesDoNotOverlap(t *testing.T) {
	u := &unsafeBuffer{t: t}
	w := NewWriter(u)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				w.Write([]byte("line\n"))
			}
		})
	}
	wg.Wait()
	if got := strings.Count(u.buf.String(), "line\n"); got != 8*200 {
		t.Fatalf("%d lines written, want %d", got, 8*200)
	}
}
