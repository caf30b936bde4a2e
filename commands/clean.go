package commands

import (
	"io"
	"unicode"
	"unicode/utf8"
)

// cleanWriter writes what the commands show of the records (branches, pushers, stage messages, test
// names: text whoever pushed chose) with every character that could drive a terminal replaced by "?":
// control characters but newline and tab (escape sequences, carriage return, C1 controls such as U+009B),
// bidirectional overrides, and bytes that are not UTF-8. A build's log and a tar stream are not written
// through it. It is not safe for concurrent use; Flush writes a character cut short at the end.
type cleanWriter struct {
	w io.Writer
	// held is the start of a character the last Write cut short.
	held []byte
}

func newCleanWriter(w io.Writer) *cleanWriter { return &cleanWriter{w: w} }

// Write writes p cleaned; it reports len(p) when the cleaned bytes were all written.
func (cw *cleanWriter) Write(p []byte) (int, error) {
	in := append(cw.held, p...)
	cw.held = nil
	out := make([]byte, 0, len(in))
	for len(in) > 0 {
		if !utf8.FullRune(in) {
			cw.held = append([]byte(nil), in...)
			break
		}
		r, size := utf8.DecodeRune(in)
		if unsafeRune(r, size) {
			out = append(out, '?')
		} else {
			out = append(out, in[:size]...)
		}
		in = in[size:]
	}
	if _, err := cw.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes a character cut short at the end as "?".
func (cw *cleanWriter) Flush() error {
	if len(cw.held) == 0 {
		return nil
	}
	cw.held = nil
	_, err := cw.w.Write([]byte("?"))
	return err
}

// unsafeRune reports whether r (size bytes long) must not reach a terminal as it is.
func unsafeRune(r rune, size int) bool {
	switch {
	case r == '\n' || r == '\t':
		return false
	case r == utf8.RuneError && size == 1:
		return true
	}
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}
