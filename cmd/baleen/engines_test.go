package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen/commands"
	"github.com/baleen-ci/baleen/pipeline/docker/pool"
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

// The pool's state reaches the web side as it is: each engine with its slots, and a retry setting without
// two engines is refused.
func TestWebEnginesAndRetryConfig(t *testing.T) {
	p, err := pool.Single(3, pool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	st := commands.EngineStates(p)
	if len(st) != 1 || st[0].Name != "local" || st[0].Slots != 3 || st[0].State != "up" || st[0].InUse != 0 {
		t.Errorf("web engines: got %+v, want local, up, 0 of 3 slots", st)
	}
	cfg := filepath.Join(t.TempDir(), "retry.yml")
	os.WriteFile(cfg, []byte("retry_on_engine_failure: 1\n"), 0o600)
	if _, err := loadConfig([]string{"--config", cfg}, testEnv(nil)); err == nil || !strings.Contains(err.Error(), "retry_on_engine_failure") {
		t.Errorf("retry without engines: got %v, want an error naming retry_on_engine_failure", err)
	}
}
