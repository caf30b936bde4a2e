package shell_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen/internal/shell"
)

var words = []struct {
	name, in, want string
}{
	{"empty", "", `''`},
	{"plain", "abc", `'abc'`},
	{"spaces", "a b  c", `'a b  c'`},
	{"single quote", "it's", `'it'\''s'`},
	{"only a quote", "'", `''\'''`},
	{"double quotes", `say "hi"`, `'say "hi"'`},
	{"newlines", "one\ntwo\n", "'one\ntwo\n'"},
	{"dollar and backticks", "$HOME `id` $(id)", "'$HOME `id` $(id)'"},
	{"backslash", `a\b\`, `'a\b\'`},
	{"glob", "*.go ?", `'*.go ?'`},
}

func TestQuote(t *testing.T) {
	for _, tt := range words {
		t.Run(tt.name, func(t *testing.T) {
			if got := shell.Quote(tt.in); got != tt.want {
				t.Errorf("Quote(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestQuoteRoundTrip has a real sh read back each quoted word, and all of them joined: each comes out
// as it went in, one argument each.
func TestQuoteRoundTrip(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("no sh: %v", err)
	}
	argv := make([]string, len(words))
	for i, tt := range words {
		argv[i] = tt.in
	}
	// printf prints each argument followed by a NUL, so the words can be split apart again exactly.
	out, err := exec.Command(sh, "-c", `printf '%s\0' `+shell.Join(argv)).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(got) != len(argv) {
		t.Fatalf("sh saw %d words, want %d: %q", len(got), len(argv), got)
	}
	for i := range argv {
		if got[i] != argv[i] {
			t.Errorf("word %d (%s): sh read %q, want %q", i, words[i].name, got[i], argv[i])
		}
	}
}

func TestJoinEmpty(t *testing.T) {
	if got := shell.Join(nil); got != "" {
		t.Errorf("Join(nil) = %q, want empty", got)
	}
	if got := shell.Join([]string{"", "a b"}); got != `'' 'a b'` {
		t.Errorf(`Join(["", "a b"]) = %q, want '' 'a b'`, got)
	}
}
