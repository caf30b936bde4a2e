package api

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
)

// MaxLogLine is the longest LogLine's text: a longer line of the log (a build that prints a blob without a
// newline) comes as several LogLines of at most this many bytes, so that a reader never holds all of it.
const MaxLogLine = 1 << 20

// LogWriter turns a build's log, written to it as text, into one JSON LogLine per line on the writer it
// wraps. Close writes an unfinished last line. It is not safe for concurrent use.
type LogWriter struct {
	enc   *json.Encoder
	buf   []byte
	stage string
	n     int
}

// NewLogWriter writes the LogLines of the text written to it to w.
func NewLogWriter(w io.Writer) *LogWriter {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &LogWriter{enc: enc}
}

// Write takes log text and writes a LogLine for each line it ends.
func (l *LogWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		skip := 1
		if i < 0 || i > MaxLogLine {
			if len(l.buf) <= MaxLogLine {
				return len(p), nil
			}
			i, skip = MaxLogLine, 0 // a piece of a long line; the rest follows
		}
		if err := l.line(string(l.buf[:i])); err != nil {
			return len(p), err
		}
		l.buf = l.buf[i+skip:]
	}
}

// Close writes the last line when it had no newline.
func (l *LogWriter) Close() error {
	if len(l.buf) == 0 {
		return nil
	}
	s := string(l.buf)
	l.buf = nil
	return l.line(s)
}

func (l *LogWriter) line(text string) error {
	text = strings.TrimSuffix(text, "\r")
	if st, ok := strings.CutPrefix(text, "==> "); ok && st != "" {
		l.stage = st
	}
	l.n++
	return l.enc.Encode(LogLine{Stage: l.stage, N: l.n, Text: text})
}
