package gitd

import (
	"strings"
	"testing"
)

// TestScrubWriter: the server's paths are rewritten even when a write ends in the middle of one, a
// repository's path becomes its name, output that cannot start a path comes out at once (a build's
// progress dots stay live), and what is held back comes out at Flush.
func TestScrubWriter(t *testing.T) {
	p := newPathScrubber("/srv/baleen/repos", "/srv/baleen/gitd")
	var out strings.Builder
	w := p.writer(&out)
	w.Write([]byte("testing..."))
	if out.String() != "testing..." {
		t.Errorf("after a write that holds no path: got %q, want it passed on at once", out.String())
	}
	for _, chunk := range []string{" done\nerror: cannot open /srv/bal", "een/re", "pos/app.git/HEAD\n", "hook at /srv/baleen/gitd/hook.sock\r", "data in /srv/baleen"} {
		w.Write([]byte(chunk))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "testing... done\nerror: cannot open app.git/HEAD\nhook at [server]/hook.sock\rdata in [server]"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
