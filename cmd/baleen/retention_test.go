package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
)

// TestServeGC pushes three green builds to a server that keeps one per branch: `ssh gc --dry-run` lists
// the two older ones and removes nothing, `ssh gc` removes them with their logs, artifacts and images,
// and the newest stays.
func TestServeGC(t *testing.T) {
	s := newServer(t)
	config := filepath.Join(s.data, "config.yml")
	if err := os.WriteFile(config, []byte("retention: {keep_builds: 1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start("--config", config)
	instance := readInstance(t, s.data)
	r := s.newRepo(projectFiles("e2e-gc", greenTest))
	for i := range 3 {
		if i > 0 {
			r.write(map[string]string{"README": strings.Repeat("x", i)})
			r.commit("change")
		}
		want(t, r.push(s.url("gc"), "main"), 0, "remote: PASSED")
	}
	want(t, s.ssh("gc", "--dry-run"), 0, "would remove gc#1\n", "would remove gc#2\n")
	if bs := decodeBuilds(t, s.ssh("builds", "gc", "--json").stdout); len(bs) != 3 {
		t.Fatalf("after a dry run: %d builds, want 3", len(bs))
	}
	want(t, s.ssh("gc"), 0, "removed gc#1\n", "removed gc#2\n")
	bs := decodeBuilds(t, s.ssh("builds", "gc", "--json").stdout)
	if len(bs) != 1 || bs[0].Number != 3 {
		t.Fatalf("after gc: builds %+v, want only #3", bs)
	}
	want(t, s.ssh("logs", "gc", "1"), 1)
	want(t, s.ssh("logs", "gc", "3"), 0, "hello from the tests")
	for n, kept := range map[int]bool{1: false, 2: false, 3: true} {
		id := (&baleen.Build{Project: "gc", Number: n}).ID(instance)
		if has, _ := s.engine.ImageExists(t.Context(), id.ImageTag("e2e-gc")); has != kept {
			t.Errorf("image of gc#%d: present %v, want %v", n, has, kept)
		}
		_, err := os.Stat(filepath.Join(s.data, "artifacts", "gc", strconv.Itoa(n)))
		if has := err == nil; has != kept {
			t.Errorf("artifacts of gc#%d: present %v, want %v", n, has, kept)
		}
	}
}
