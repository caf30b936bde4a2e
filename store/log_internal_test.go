package store

import (
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
)

// TestLogCommitsWhenQuiet stops a build's last line from living only in memory: a build that prints a line
// and then runs quietly for minutes must have that line committed, so that a crash does not lose it.
func TestLogCommitsWhenQuiet(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	if err := s.CreateProject(ctx, baleen.Project{Name: "api"}); err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateBuild(ctx, baleen.Build{Project: "api"})
	if err != nil {
		t.Fatal(err)
	}
	lw, err := s.LogWriter(ctx, "api", b.Number)
	if err != nil {
		t.Fatal(err)
	}
	defer lw.Close()
	line := "gated test started\n"
	if _, err := lw.Write([]byte(line)); err != nil {
		t.Fatal(err)
	}
	w := lw.(*logWriter)
	deadline := time.Now().Add(30 * time.Second)
	for {
		w.mu.Lock()
		committed := w.off
		w.mu.Unlock()
		if committed == int64(len(line)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("committed log: got %d bytes after 30s without another write, want %d", committed, len(line))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
