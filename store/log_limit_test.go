package store_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/store"
)

// TestLogLimit stops a build that prints without end from filling the disk: its log keeps the output up
// to the limit, ends with the marker, drops the rest while every write still succeeds, and the build is
// still there to be recorded. A later writer of the same build adds nothing.
func TestLogLimit(t *testing.T) {
	s, _ := openStore(t)
	ctx := t.Context()
	if err := s.CreateProject(ctx, baleen.Project{Name: "loud"}); err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateBuild(ctx, baleen.Build{Project: "loud"})
	if err != nil {
		t.Fatal(err)
	}
	const limit = 100 << 10
	w, err := s.LogWriterLimit(ctx, "loud", b.Number, limit)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("y", 99) + "\n"
	var written strings.Builder
	for i := 0; i < 3*limit/len(line); i++ {
		n, err := w.Write([]byte(line))
		if err != nil || n != len(line) {
			t.Fatalf("write %d: got %d, %v; want %d, nil even past the limit", i, n, err, len(line))
		}
		written.WriteString(line)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := written.String()[:limit] + fmt.Sprintf(store.TruncatedMarker, limit)
	if got := readLog(t, s, "loud", b.Number, 0); got != want {
		t.Fatalf("log: got %d bytes ending %q, want %d bytes ending %q", len(got), tail(got), len(want), tail(want))
	}
	again, err := s.LogWriterLimit(ctx, "loud", b.Number, limit)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := again.Write([]byte("more\n")); n != 5 || err != nil {
		t.Errorf("write to a full log: got %d, %v; want 5, nil", n, err)
	}
	again.Close()
	if got := readLog(t, s, "loud", b.Number, 0); got != want {
		t.Errorf("log after a second writer: got %d bytes, want %d", len(got), len(want))
	}
	if _, err := s.UpdateBuild(ctx, "loud", b.Number, baleen.BuildPatch{Status: ptr(baleen.StatusPassed)}); err != nil {
		t.Errorf("record the build after its log was truncated: %v", err)
	}
}

func tail(s string) string { return s[max(len(s)-120, 0):] }
