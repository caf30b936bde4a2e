package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen/store"
)

// TestMinFreeConfig reads min_free_mb: absent is the 1 GiB default, 0 turns the check off, and a value
// that is negative or past 1 EiB stops the server with the key's name.
func TestMinFreeConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, yml string
		want      uint64
		err       string
	}{
		{"absent", "listen: \":1\"\n", store.DefaultMinFree, ""},
		{"set", "min_free_mb: 300\n", 300 << 20, ""},
		{"off", "min_free_mb: 0\n", 0, ""},
		{"negative", "min_free_mb: -1\n", 0, "min_free_mb: want 0 (no check) to 1099511627776 MiB, got -1"},
		{"too large", "min_free_mb: 1099511627777\n", 0, "min_free_mb: want 0 (no check) to"},
		{"not a number", "min_free_mb: lots\n", 0, "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, tt.name+".yml")
			if err := os.WriteFile(file, []byte(tt.yml), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := loadConfig([]string{"--config", file}, testEnv(nil))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got error %v, want one with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.minFree(); got != tt.want {
				t.Errorf("minimum free space: got %d bytes, want %d", got, tt.want)
			}
		})
	}
}

// TestPushRefusedBelowMinFree: a server whose min_free_mb is more than its disk has (1 PiB) refuses a push
// before it builds, telling the pusher why, and neither moves the ref nor records a build.
func TestPushRefusedBelowMinFree(t *testing.T) {
	s := newServer(t)
	cfg := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(cfg, []byte("min_free_mb: 1073741824\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start("--config", cfg)
	r := s.newRepo(projectFiles("e2e-full", greenTest))
	res := r.push(s.url("full"), "main")
	want(t, res, 1, "remote: the server's disk is nearly full (", "a push needs 1.0 PiB): ask its operator to free space")
	if ref := s.remoteRef("full", "refs/heads/main"); ref != "" {
		t.Errorf("main after the refused push: got %s, want no ref", ref)
	}
	if res := s.ssh("builds", "full", "--json"); strings.TrimSpace(res.stdout) != "" && len(decodeBuilds(t, res.stdout)) != 0 {
		t.Errorf("builds after the refused push: got %s, want none", res)
	}
}
