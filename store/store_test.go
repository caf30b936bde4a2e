package store_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/store"
	"github.com/dgraph-io/badger/v4"
	"github.com/google/go-cmp/cmp"
)

// t0 is a fixed creation time for records made in tests.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// openStore opens a store in a fresh directory and closes it when the test ends.
func openStore(t testing.TB) (*store.Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "db")
	s, err := store.Open(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, dir
}

// mustProject creates the project name.
func mustProject(t testing.TB, s *store.Store, name string) {
	t.Helper()
	if err := s.CreateProject(t.Context(), baleen.Project{Name: name, Created: t0}); err != nil {
		t.Fatalf("CreateProject(%s): %v", name, err)
	}
}

// mustBuild creates a build of project.
func mustBuild(t testing.TB, s *store.Store, b baleen.Build) baleen.Build {
	t.Helper()
	got, err := s.CreateBuild(t.Context(), b)
	if err != nil {
		t.Fatalf("CreateBuild(%s): %v", b.Project, err)
	}
	return got
}

func TestCloseTwice(t *testing.T) {
	s, err := store.Open(filepath.Join(t.TempDir(), "db"), nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: got %v, want nil", err)
	}
}

func TestClosedStoreFails(t *testing.T) {
	s, _ := openStore(t)
	mustProject(t, s, "api")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
	}{
		{"Project", func() error { _, err := s.Project(ctx, "api"); return err }},
		{"Projects", func() error { _, err := s.Projects(ctx); return err }},
		{"CreateProject", func() error { return s.CreateProject(ctx, baleen.Project{Name: "web"}) }},
		{"CreateBuild", func() error { _, err := s.CreateBuild(ctx, baleen.Build{Project: "api"}); return err }},
		{"Builds", func() error { _, err := s.Builds(ctx, baleen.BuildFilter{}); return err }},
		{"Log", func() error { _, err := s.Log(ctx, "api", 1, 0); return err }},
		{"LogWriter", func() error { _, err := s.LogWriter(ctx, "api", 1); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, baleen.ErrUnavailable) {
				t.Errorf("got error %v, want ErrUnavailable", err)
			}
		})
	}
}

func TestCancelledContext(t *testing.T) {
	s, _ := openStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.CreateProject(ctx, baleen.Project{Name: "api"}); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateProject: got error %v, want context.Canceled", err)
	}
	if _, err := s.Projects(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Projects: got error %v, want context.Canceled", err)
	}
}

// TestReopen checks that projects, builds, their numbering and logs survive Close and Open.
func TestReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	ctx := t.Context()
	s, err := store.Open(dir, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	mustProject(t, s, "api")
	mustBuild(t, s, baleen.Build{Project: "api", Commit: "c1", Created: t0})
	mustBuild(t, s, baleen.Build{Project: "api", Commit: "c2", Created: t0.Add(time.Minute)})
	passed := baleen.StatusPassed
	b2, err := s.UpdateBuild(ctx, "api", 2, baleen.BuildPatch{Status: &passed, Images: map[string]string{"app": "app:baleen-api-2"}})
	if err != nil {
		t.Fatalf("UpdateBuild: %v", err)
	}
	w, err := s.LogWriter(ctx, "api", 2)
	if err != nil {
		t.Fatalf("LogWriter: %v", err)
	}
	if _, err := w.Write([]byte("closed writer\n")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("writer Close: %v", err)
	}
	// A writer left open is flushed by the store's Close.
	w1, err := s.LogWriter(ctx, "api", 1)
	if err != nil {
		t.Fatalf("LogWriter: %v", err)
	}
	if _, err := w1.Write([]byte("open writer\n")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := w1.Write([]byte("after close\n")); err == nil {
		t.Errorf("Write after store Close: got nil error, want one")
	}

	s, err = store.Open(dir, nil)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })

	p, err := s.Project(ctx, "api")
	if err != nil {
		t.Fatalf("Project: %v", err)
	}
	if diff := cmp.Diff(baleen.Project{Name: "api", Created: t0}, p); diff != "" {
		t.Errorf("Project after reopen (-want +got):\n%s", diff)
	}
	got, err := s.Build(ctx, "api", 2)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if diff := cmp.Diff(b2, got); diff != "" {
		t.Errorf("Build after reopen (-want +got):\n%s", diff)
	}
	b3 := mustBuild(t, s, baleen.Build{Project: "api"})
	if b3.Number != 3 {
		t.Errorf("number after reopen: got %d, want 3", b3.Number)
	}
	for n, want := range map[int]string{1: "open writer\n", 2: "closed writer\n"} {
		if got := readLog(t, s, "api", n, 0); got != want {
			t.Errorf("log of api#%d after reopen: got %q, want %q", n, got, want)
		}
	}
}

// TestBackup loads a backup into an empty database and opens it as a store.
func TestBackup(t *testing.T) {
	s, _ := openStore(t)
	mustProject(t, s, "api")
	b := mustBuild(t, s, baleen.Build{Project: "api", Commit: "c1", Created: t0})
	var buf bytes.Buffer
	if err := s.Backup(&buf); err != nil {
		t.Fatalf("Backup: %v", err)
	}

	dir := filepath.Join(t.TempDir(), "restored")
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatalf("badger.Open: %v", err)
	}
	if err := db.Load(&buf, 16); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("badger Close: %v", err)
	}
	r, err := store.Open(dir, nil)
	if err != nil {
		t.Fatalf("Open restored: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	got, err := r.Build(t.Context(), "api", 1)
	if err != nil {
		t.Fatalf("Build from restored store: %v", err)
	}
	if diff := cmp.Diff(b, got); diff != "" {
		t.Errorf("restored build (-want +got):\n%s", diff)
	}
}
