package main

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
)

// Without an engine, `baleen build` says so once (not once per stage and again for the teardown), and
// exits 3.
func TestBuildNoEngineSaysItOnce(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "baleen.yml"), []byte("build: {app: .}\ntest: {command: [true]}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\n"), 0o644)
	t.Setenv("DOCKER_HOST", "unix:///nonexistent")
	code, out, errOut := runCLI(t, nil, "build", "-artifacts", t.TempDir(), dir)
	if code != exitInfra {
		t.Errorf("exit: got %d, want %d", code, exitInfra)
	}
	if n := strings.Count(out+errOut, "does not answer"); n != 1 {
		t.Errorf("the missing engine is reported %d times, want once\nstdout:\n%s\nstderr:\n%s", n, out, errOut)
	}
}

// A local build, green or red, leaves no <image>:baleen-local-XXXXXXXX tag behind; a green one keeps its
// images as <image>:latest.
func TestBuildLeavesNoRunTag(t *testing.T) {
	e := dockertest.Engine(t)
	var b [4]byte
	rand.Read(b[:])
	for _, tc := range []struct {
		name, test string
		wantCode   int
	}{
		{"green", "true", exitOK},
		{"red", "false", exitFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			image := "baleen-tagtest-" + tc.name + "-" + hex.EncodeToString(b[:])
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "baleen.yml"), []byte("build: {"+image+": .}\ntest: {image: "+image+", command: ["+tc.test+"]}\n"), 0o644)
			os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+dockertest.BusyboxImage(t)+"\n"), 0o644)
			code, out, errOut := runCLI(t, nil, "build", "-artifacts", t.TempDir(), dir)
			removeLocalBuildImages(t, out) // whatever is left, :latest included
			if code != tc.wantCode {
				t.Fatalf("exit: got %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, out, errOut)
			}
			refs := regexp.MustCompile(regexp.QuoteMeta(image)+`:baleen-local-[0-9a-f]{8}`).FindAllString(out, -1)
			if len(refs) == 0 {
				t.Fatalf("output names no %s:baleen-local- tag:\n%s", image, out)
			}
			for _, ref := range refs {
				if ok, err := e.ImageExists(t.Context(), ref); err != nil || ok {
					t.Errorf("%s: exists %v (err %v), want it removed", ref, ok, err)
				}
			}
			latest, err := e.ImageExists(t.Context(), image+":latest")
			if err != nil || latest != (tc.wantCode == exitOK) {
				t.Errorf("%s:latest: exists %v (err %v), want %v", image, latest, err, tc.wantCode == exitOK)
			}
		})
	}
}
