package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLockData checks the data directory's lock: a second holder is refused naming the first's pid, a pid
// left in the file by a process that died does not block, and a released lock can be taken again.
func TestLockData(t *testing.T) {
	dir := t.TempDir()
	// What a crashed server leaves: its pid in the file, no lock.
	if err := os.WriteFile(filepath.Join(dir, lockFile), []byte("999999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	release, err := lockData(dir)
	if err != nil {
		t.Fatalf("lockData over a stale pid file: got %v, want the lock", err)
	}
	_, err = lockData(dir)
	want := fmt.Sprintf("another Baleen is already running on this data directory (pid %d; data in %s)", os.Getpid(), dir)
	if !errors.Is(err, errAlreadyRunning) || err.Error() != want {
		t.Fatalf("second lockData: got %v, want %q", err, want)
	}
	if err := release(); err != nil {
		t.Fatalf("release: %v", err)
	}
	again, err := lockData(dir)
	if err != nil {
		t.Fatalf("lockData after release: got %v, want the lock", err)
	}
	again()
}

// TestServeAlreadyRunning starts a second `baleen serve` on a running server's data directory: it must stop
// at once, saying so with the first one's pid, before it logs or opens anything.
func TestServeAlreadyRunning(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server: needs Docker")
	}
	s := newServer(t)
	s.start()
	cmd := exec.Command(os.Args[0], "serve", "--data", s.data, "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "BALEEN_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("second serve: exited 0, want a failure\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := fmt.Sprintf("another Baleen is already running on this data directory (pid %d", s.cmd.Process.Pid)
	if len(lines) != 1 || !strings.Contains(lines[0], want) {
		t.Errorf("second serve: got\n%s\nwant one line saying %q", out, want)
	}
}
