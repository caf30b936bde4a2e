package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/baleen-ci/baleen/store"
)

// TestServeBackup: `ssh backup` by an admin writes the records in badger's backup format, which loads into
// an empty directory that then opens as a store holding the server's projects.
func TestServeBackup(t *testing.T) {
	s := newServer(t)
	s.start()
	r := s.newRepo(map[string]string{"README": "kept"})
	want(t, r.push("-o", "ci.skip", s.url("kept"), "main"), 0, "stored without a build (ci.skip)")
	res := s.ssh("backup")
	if res.code != 0 || len(res.stdout) == 0 {
		t.Fatalf("backup: %s", res)
	}

	dir := filepath.Join(t.TempDir(), "restored")
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		t.Fatalf("badger.Open: %v", err)
	}
	if err := db.Load(strings.NewReader(res.stdout), 16); err != nil {
		t.Fatalf("load the backup: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(dir, nil)
	if err != nil {
		t.Fatalf("open the restored store: %v", err)
	}
	defer st.Close()
	if _, err := st.Project(context.Background(), "kept"); err != nil {
		t.Errorf("the restored store lacks project kept: %v", err)
	}
}
