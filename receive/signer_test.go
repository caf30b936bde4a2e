package receive

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/gitd"
	"github.com/baleen-ci/baleen/store"
)

// TestBuildKeepsSigner: the build of a signed push carries the key that signed its certificate, for the
// build's record; a certificate that did not verify, or none, gives no signer.
func TestBuildKeepsSigner(t *testing.T) {
	for _, tc := range []struct {
		name string
		cert *gitd.PushCertificate
		want string
	}{
		{"good", &gitd.PushCertificate{Status: "G", Nonce: "OK", Key: "SHA256:signer"}, "SHA256:signer"},
		{"bad signature", &gitd.PushCertificate{Status: "B", Nonce: "OK", Key: "SHA256:signer"}, ""},
		{"bad nonce", &gitd.PushCertificate{Status: "G", Nonce: "BAD", Key: "SHA256:signer"}, ""},
		{"unsigned", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := store.Open(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			sched := &recordingScheduler{result: baleen.Build{Number: 1, Status: baleen.StatusPassed}}
			r := New(sched, st, st, nil, slog.New(slog.DiscardHandler))
			p := gitd.Push{Project: "app", Certificate: tc.cert, Updates: []gitd.RefUpdate{
				{Name: "refs/heads/main", Old: strings.Repeat("a", 40), New: strings.Repeat("b", 40)}}}
			r.Receive(t.Context(), p, io.Discard)
			if len(sched.reqs) != 1 || sched.reqs[0].Signer != tc.want {
				t.Errorf("requests: got %+v, want one with signer %q", sched.reqs, tc.want)
			}
		})
	}
}
