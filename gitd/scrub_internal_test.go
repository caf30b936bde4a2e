package gitd

import (
	"strings"
	"testing"
)

// TestScrubWriter: the server's paths are rewritten even when a write ends in the middle of one, a
// repository's path becomes its name, and an unfinished last line comes out at Flush.
func TestScrubWriter(t *testing.T) {
	p := newPathScrubber("/srv/baleen/repos", "/srv/baleen/gitd")
	var out strings.Builder
	w := p.writer(&out)
	for _, chunk := range []string{"error: cannot open /srv/bal", "een/repos/app.git/HEAD\n", "hook at /srv/baleen/gitd/hook.sock\r", "data in /srv/baleen"} {
		w.Write([]byte(chunk))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "error: cannot open app.git/HEAD\nhook at [server]/hook.sock\rdata in [server]"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
