package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
	"github.com/moby/moby/client"
)

// runCLI runs a baleen command line in-process and returns its exit code, stdout and stderr.
func runCLI(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
	code := run(t.Context(), func() {}, args, env{stdout: &stdout, stderr: &stderr, getenv: getenv})
	return code, stdout.String(), stderr.String()
}

// buildIDs finds the local build ids in build output, to check what they left behind.
var buildIDs = regexp.MustCompile(`:baleen-(local-[0-9a-f]{8})`)

// removeBuildImages removes the images a local build tagged.
func removeBuildImages(t *testing.T, out string, names ...string) {
	removeLocalBuildImages(t, out) // every tag, :latest included; runs after the check below
	e := dockertest.Engine(t)
	ctx := context.WithoutCancel(t.Context())
	t.Cleanup(func() {
		for _, m := range buildIDs.FindAllStringSubmatch(out, -1) {
			if left := dockertest.Leftovers(t, baleen.BuildID(m[1])); len(left) != 0 {
				t.Errorf("build %s left %v, want nothing", m[1], left)
			}
			for _, n := range names {
				e.Client().ImageRemove(ctx, baleen.BuildID(m[1]).ImageTag(n), client.ImageRemoveOptions{})
			}
		}
	})
}

// TestBuildExample is the README's promise: the example passes `baleen build`.
func TestBuildExample(t *testing.T) {
	e := dockertest.Engine(t)
	if _, err := e.Client().ImageInspect(t.Context(), "busybox:latest"); err != nil {
		t.Fatalf("the examples build FROM busybox; run `make deps` to make busybox:latest: %v", err)
	}
	artifacts := t.TempDir()
	code, out, errOut := runCLI(t, nil, "build", "-artifacts", artifacts, "../../examples/hello")
	removeBuildImages(t, out, "hello")
	if code != exitOK {
		t.Fatalf("baleen build examples/hello: got exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"db: ready (ready command)", "ok   db_reachable", "tests: 3 passed, 0 failed, 0 skipped — coverage 75.0%", "PASSED in"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(artifacts, "xunit", "reports", "junit.xml")); err != nil {
		t.Errorf("junit artifact: %v", err)
	}
	if len(buildIDs.FindAllString(out, -1)) == 0 {
		t.Errorf("output names no build image tag:\n%s", out)
	}
}

func TestBuildExitCodes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(p, 0o755)
		os.WriteFile(filepath.Join(p, "baleen.yml"), []byte(body), 0o644)
		os.WriteFile(filepath.Join(p, "Dockerfile"), []byte("FROM "+dockertest.BusyboxImage(t)+"\n"), 0o644)
		return p
	}
	red := write("red", "build: {cli-red: .}\ntest: {command: [sh, -c, 'echo failing; exit 1']}\n")
	tests := []struct {
		name     string
		vars     map[string]string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"red tests", nil, []string{"build", red}, exitFailed, ""},
		{"invalid baleen.yml", nil, []string{"build", write("bad", "biuld: {x: .}\n")}, exitUsage, `baleen.yml:1:1: biuld: unknown key; did you mean build?`},
		{"missing context", nil, []string{"build", write("noctx", "build: {x: nowhere}\n")}, exitUsage, "nowhere"},
		{"missing credential", map[string]string{"NOT_SET_ANYWHERE": ""}, []string{"build", write("cred", "build: {x: .}\ncredentials: [NOT_SET_ANYWHERE]\n")}, exitUsage, "credential NOT_SET_ANYWHERE"},
		{"not a directory", nil, []string{"build", filepath.Join(dir, "nope")}, exitUsage, "is not a directory"},
		{"docker unreachable", map[string]string{"DOCKER_HOST": "unix:///nonexistent/docker.sock"}, []string{"build", red}, exitInfra, ""},
		{"unknown command", nil, []string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{"too many arguments", nil, []string{"build", red, red}, exitUsage, "usage: baleen build"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.vars["DOCKER_HOST"] != "" {
				t.Setenv("DOCKER_HOST", tt.vars["DOCKER_HOST"])
			}
			code, out, errOut := runCLI(t, tt.vars, tt.args...)
			if tt.vars["DOCKER_HOST"] == "" {
				removeBuildImages(t, out, "cli-red")
			}
			if code != tt.wantCode {
				t.Errorf("got exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			if !strings.Contains(errOut+out, tt.wantErr) {
				t.Errorf("output lacks %q:\nstdout:\n%s\nstderr:\n%s", tt.wantErr, out, errOut)
			}
			if tt.wantCode == exitInfra && !strings.Contains(out+errOut, "unix:///nonexistent/docker.sock") {
				t.Errorf("output does not name the DOCKER_HOST tried:\n%s%s", out, errOut)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yml")
	bad := filepath.Join(dir, "bad.yml")
	os.WriteFile(good, []byte("build: {api: .}\n"), 0o644)
	os.WriteFile(bad, []byte("build: {api: .}\ntest: {imgae: api, timeout: forever}\n"), 0o644)
	if code, out, _ := runCLI(t, nil, "validate", good); code != exitOK || !strings.Contains(out, "valid") {
		t.Errorf("validate good: got %d %q, want 0 and 'valid'", code, out)
	}
	code, _, errOut := runCLI(t, nil, "validate", bad)
	if code != exitUsage {
		t.Errorf("validate bad: got exit %d, want %d", code, exitUsage)
	}
	// Every problem is reported at once, each with its position.
	for _, want := range []string{"bad.yml:2:8: test.imgae: unknown key; did you mean image?", "bad.yml:2:29: test.timeout:"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("validate output lacks %q:\n%s", want, errOut)
		}
	}
	if code, _, errOut := runCLI(t, nil, "validate", filepath.Join(dir, "none.yml")); code != exitUsage || !strings.Contains(errOut, "no such file") {
		t.Errorf("validate missing file: got %d %q, want 2 and 'no such file'", code, errOut)
	}
}
