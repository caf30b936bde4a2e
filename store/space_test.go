package store_test

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/store"
)

// TestCheckSpace stops a push from filling the data directory's disk: a minimum above what the file system
// has free refuses it with a message that says both amounts; one below lets it through.
func TestCheckSpace(t *testing.T) {
	dir := t.TempDir()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := st.Bavail * uint64(st.Bsize)
	if err := store.CheckSpace(dir, free/2); err != nil {
		t.Errorf("CheckSpace(half of what is free): got %v, want nil", err)
	}
	if err := store.CheckSpace(dir, 0); err != nil {
		t.Errorf("CheckSpace(0): got %v, want nil (disabled)", err)
	}
	err := store.CheckSpace(dir, free+1<<40)
	if !errors.Is(err, baleen.ErrUnavailable) {
		t.Fatalf("CheckSpace(more than is free): got %v, want ErrUnavailable", err)
	}
	for _, want := range []string{"the server's disk is nearly full (", "iB free, a push needs ", "iB): ask its operator to free space"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	if err := store.CheckSpace(dir+"/missing", 1); err == nil || errors.Is(err, baleen.ErrUnavailable) {
		t.Errorf("CheckSpace(missing dir): got %v, want an error that is not ErrUnavailable", err)
	}
}
