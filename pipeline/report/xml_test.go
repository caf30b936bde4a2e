package report

import (
	"strings"
	"testing"
	"testing/iotest"
)

func TestLatin1Reader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", ""},
		{"ascii", "plain <text>", "plain <text>"},
		{"accents", "caf\xe9 cr\xe8me \xabbr\xfbl\xe9e\xbb", "café crème «brûlée»"},
		{"every high byte", "\x80\xa0\xff", "\u0080\u00a0\u00ff"},
		// Longer than the converter's buffer, so that conversion spans several reads.
		{"long", strings.Repeat("\xe9", 10000), strings.Repeat("é", 10000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// TestReader reads with buffers of several sizes, one byte included, and checks io.Reader's rules.
			if err := iotest.TestReader(&latin1Reader{r: strings.NewReader(tt.in)}, []byte(tt.want)); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestCut(t *testing.T) {
	tests := []struct {
		name string
		s    string
		n    int
		want string
	}{
		{"short", "abc", 3, "abc"},
		{"ascii", "abcd", 3, "abc\n… (cut)"},
		{"inside a rune", "aé", 2, "a\n… (cut)"},
		{"before a rune", "aé", 1, "a\n… (cut)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cut(tt.s, tt.n); got != tt.want {
				t.Errorf("cut(%q, %d): got %q, want %q", tt.s, tt.n, got, tt.want)
			}
		})
	}
}
