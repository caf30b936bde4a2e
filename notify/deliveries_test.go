package notify_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/notify"
)

// A recorded error holds what a receiver or a mail server answered, which may hold a terminal's escape
// sequences, tabs or line breaks: the table shows each delivery on one line, with no control character.
func TestDeliveryTableShowsNoControlCharacters(t *testing.T) {
	ds := []baleen.Delivery{
		{ID: 2, Sink: "hook", Event: "failed", Status: baleen.DeliveryPending, Error: "hook answered 500 \x1b]0;owned\x07\x1b[2Jx\ty\r\nz"},
		{ID: 1, Sink: "hook", Event: "fixed", Status: baleen.DeliveryDelivered},
	}
	var out bytes.Buffer
	if err := notify.WriteDeliveryTable(&out, ds); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"); len(lines) != 3 {
		t.Errorf("got %d lines, want a header and one per delivery:\n%s", len(lines), out.String())
	}
	if i := strings.IndexFunc(out.String(), func(r rune) bool { return r < ' ' && r != '\n' || r == 0x7f }); i >= 0 {
		t.Errorf("control character %q in the table:\n%q", out.String()[i], out.String())
	}
	if !strings.Contains(out.String(), "hook answered 500") {
		t.Errorf("the error is not shown:\n%s", out.String())
	}
}
