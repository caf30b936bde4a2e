package pipeline

import (
	"bytes"
	"io"
	"sort"
	"sync"
)

// Mask is the text that stands in for a secret in output.
const Mask = "********"

// Masker is an io.WriteCloser that replaces every secret value in what passes through it with Mask before it
// reaches the writer beneath. A secret split across two writes is still masked: the masker holds back the
// tail of its input that could be the start of a secret until the next write or Close shows what follows.
// It is safe for concurrent use; Close flushes what it holds back and does not close the writer beneath.
type Masker struct {
	mu      sync.Mutex
	w       io.Writer
	secrets [][]byte
	buf     []byte
}

// NewMasker returns a Masker writing to w. Empty secrets are ignored; longer secrets are matched first.
func NewMasker(w io.Writer, secrets []string) *Masker {
	m := &Masker{w: w}
	for _, s := range secrets {
		if s != "" {
			m.secrets = append(m.secrets, []byte(s))
		}
	}
	sort.Slice(m.secrets, func(i, j int) bool { return len(m.secrets[i]) > len(m.secrets[j]) })
	return m
}

// Write masks p and passes on all of it that cannot be the start of a secret.
func (m *Masker) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.secrets) == 0 {
		return m.w.Write(p)
	}
	m.buf = append(m.buf, p...)
	m.buf = m.replace(m.buf)
	keep := m.heldBack(m.buf)
	out := m.buf[:len(m.buf)-keep]
	if len(out) > 0 {
		if _, err := m.w.Write(out); err != nil {
			return 0, err
		}
	}
	m.buf = append(m.buf[:0], m.buf[len(m.buf)-keep:]...)
	return len(p), nil
}

// Close writes what the masker holds back.
func (m *Masker) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.buf) == 0 {
		return nil
	}
	_, err := m.w.Write(m.buf)
	m.buf = m.buf[:0]
	return err
}

func (m *Masker) replace(b []byte) []byte {
	for _, s := range m.secrets {
		if bytes.Contains(b, s) {
			b = bytes.ReplaceAll(b, s, []byte(Mask))
		}
	}
	return b
}

// heldBack is the length of the longest suffix of b that is a proper prefix of a secret.
func (m *Masker) heldBack(b []byte) int {
	longest := 0
	for _, s := range m.secrets {
		n := min(len(s)-1, len(b))
		for k := n; k > longest; k-- {
			if bytes.HasPrefix(s, b[len(b)-k:]) {
				longest = k
				break
			}
		}
	}
	return longest
}

// String masks every secret in s: for messages kept apart from the stream, such as a stage's reason.
func (m *Masker) String(s string) string {
	b := m.replace([]byte(s))
	return string(b)
}

// To returns a Masker with m's secrets that writes to w: for what is kept apart from the output, such as
// an artifact's content. Close it to write what it holds back.
func (m *Masker) To(w io.Writer) *Masker { return &Masker{w: w, secrets: m.secrets} }
