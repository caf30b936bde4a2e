package api

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A log written in pieces that split lines becomes one LogLine per line, each with its stage.
func TestLogWriter(t *testing.T) {
	var out bytes.Buffer
	lw := NewLogWriter(&out)
	for _, p := range []string{"queued\n==> bu", "ild\nStep 1/2\r\n", "==> test\nok", " 3 tests"} {
		if _, err := lw.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	got := decodeLines(t, &out)
	want := []LogLine{{"", 1, "queued"}, {"build", 2, "==> build"}, {"build", 3, "Step 1/2"},
		{"test", 4, "==> test"}, {"test", 5, "ok 3 tests"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log lines (-want +got):\n%s", diff)
	}
}

// A line longer than MaxLogLine, written without a newline, is sent in pieces of at most MaxLogLine as it
// comes: the writer never holds more than that of it, and the pieces together are the line.
func TestLogWriterSplitsLongLines(t *testing.T) {
	var out bytes.Buffer
	lw := NewLogWriter(&out)
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	total := 3*MaxLogLine + 100
	for n := 0; n < total; n += len(chunk) {
		p := chunk[:min(len(chunk), total-n)]
		if _, err := lw.Write(p); err != nil {
			t.Fatal(err)
		}
		if len(lw.buf) > MaxLogLine {
			t.Fatalf("the writer holds %d bytes of one line, want at most %d", len(lw.buf), MaxLogLine)
		}
	}
	lw.Write([]byte("\nnext\n"))
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	var text string
	lines := decodeLines(t, &out)
	for _, l := range lines {
		if len(l.Text) > MaxLogLine {
			t.Errorf("line %d holds %d bytes, want at most %d", l.N, len(l.Text), MaxLogLine)
		}
	}
	for _, l := range lines[:len(lines)-1] {
		text += l.Text
	}
	if len(lines) != 5 || text != string(bytes.Repeat([]byte("x"), total)) || lines[4] != (LogLine{N: 5, Text: "next"}) {
		t.Errorf("got %d lines (last %+v), the long one %d bytes; want 4 pieces of %d bytes and then next", len(lines), lines[len(lines)-1], len(text), total)
	}
}

// decodeLines reads the LogLines a LogWriter wrote.
func decodeLines(t *testing.T, r io.Reader) []LogLine {
	t.Helper()
	var out []LogLine
	dec := json.NewDecoder(r)
	for dec.More() {
		var l LogLine
		if err := dec.Decode(&l); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}
