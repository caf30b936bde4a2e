package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The engines section of the config is read and checked: a good one is kept, a bad one is refused
// naming the engine and what is wrong.
func TestConfigEngines(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yml")
	os.WriteFile(good, []byte("engines:\n  local: {host: 'unix:///var/run/docker.sock', slots: 2}\n  build-2: {host: 'ssh://builder@10.0.0.21', slots: 4, labels: [amd64, big]}\n"), 0o600)
	c, err := loadConfig([]string{"--config", good}, testEnv(nil))
	if err != nil {
		t.Fatalf("good engines: %v", err)
	}
	if len(c.Engines) != 2 || c.Engines["build-2"].Slots != 4 || len(c.Engines["build-2"].Labels) != 2 {
		t.Errorf("engines read as %+v", c.Engines)
	}
	bad := filepath.Join(dir, "bad.yml")
	os.WriteFile(bad, []byte("engines:\n  Bad_Name: {host: 'ftp://x', slots: 1}\n"), 0o600)
	if _, err := loadConfig([]string{"--config", bad}, testEnv(nil)); err == nil || !strings.Contains(err.Error(), "engines") {
		t.Errorf("bad engines: got %v, want an error naming the engines section", err)
	}
}
