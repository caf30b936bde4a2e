package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEnsureDockerFailsFast runs scripts/ensure-docker.sh where no engine answers and the dockerd it starts
// dies at once (as one does over a stale pid file): the script must remove the stale pid file, notice the
// death rather than wait out its 10-minute allowance, and show dockerd's last log lines. The docker and
// dockerd it finds are stand-ins that fail, injected through PATH: the real engine is not touched.
func TestEnsureDockerFailsFast(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("ensure-docker.sh starts dockerd only as root")
	}
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("docker", "#!/bin/sh\nexit 1\n")
	write("dockerd", "#!/bin/sh\necho 'starting up'\necho 'failed to start daemon: the stand-in gives up'\nexit 1\n")
	pidfile := filepath.Join(dir, "docker.pid")
	write("docker.pid", "999999\n")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "../../scripts/ensure-docker.sh")
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "DOCKER_HOST=", "BALEEN_DOCKERD_PIDFILE="+pidfile,
		"BALEEN_DOCKERD_LOG="+filepath.Join(dir, "dockerd.log"), "BALEEN_DOCKERD_WAIT=600")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("ensure-docker.sh was still waiting for a dead dockerd after 2 minutes:\n%s", out)
	}
	if err == nil {
		t.Fatalf("ensure-docker.sh: exited 0, want a failure\n%s", out)
	}
	for _, want := range []string{
		"removing the stale " + pidfile,
		"exited before it answered; the last lines of its log",
		"failed to start daemon: the stand-in gives up",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("ensure-docker.sh output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
		t.Errorf("stale pid file: got %v, want it removed", err)
	}
}
