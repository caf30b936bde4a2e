package receive

import (
	"errors"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/gitd"
	"github.com/baleen-ci/baleen/store"
)

// TestReceiveRefusesWhenDiskIsFull asks the real file system for more free space than any has: every
// update of the push is refused with the check's words, and nothing is built or recorded.
func TestReceiveRefusesWhenDiskIsFull(t *testing.T) {
	dir := t.TempDir()
	r := New(nil, nil, nil, nil, nil)
	r.CheckSpace = func() error { return store.CheckSpace(dir, 1<<62) }
	var out strings.Builder
	p := gitd.Push{Project: "app", Updates: []gitd.RefUpdate{
		{Name: "refs/heads/main", Old: zeroID, New: strings.Repeat("a", 40)},
		{Name: "refs/heads/dev", Old: zeroID, New: strings.Repeat("b", 40)},
	}}
	errs := r.Receive(t.Context(), p, &out)
	for i, err := range errs {
		if !errors.Is(err, baleen.ErrUnavailable) || !strings.Contains(err.Error(), "nearly full") {
			t.Errorf("update %d: got %v, want the free-space refusal", i, err)
		}
	}
	if !strings.Contains(out.String(), "nearly full") {
		t.Errorf("push output %q does not say why", out.String())
	}
}
