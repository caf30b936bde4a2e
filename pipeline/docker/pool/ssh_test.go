package pool_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/pipeline/docker"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
	"github.com/baleen-ci/baleen/pipeline/docker/pool"
)

// sshEngine starts scripts/ssh-engine.sh's sshd, whose dial-stdio reaches the second engine, and returns
// the engines: entry that reaches it; sshd is stopped when the test ends. Without sshd the test fails
// when CI is set and is skipped otherwise.
func sshEngine(t *testing.T) pool.EngineConfig {
	t.Helper()
	dockertest.SecondEngineHost(t) // the second engine is up, and this test process holds it
	script := filepath.Join("..", "..", "..", "scripts", "ssh-engine.sh")
	out, err := exec.Command("bash", script, "start").CombinedOutput()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("ssh-engine.sh start: %v\n%s", err, out)
		}
		t.Skipf("no sshd for the ssh:// engine (set CI to make this a failure): %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("bash", script, "stop").CombinedOutput(); err != nil {
			t.Errorf("ssh-engine.sh stop: %v\n%s", err, out)
		}
	})
	run := os.Getenv("BALEEN_SSH_ENGINE_RUN")
	if run == "" {
		run = "/run/baleen-ssh-engine"
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return pool.EngineConfig{Host: lines[len(lines)-1], Slots: 1,
		SSH: &pool.SSHFiles{Identity: filepath.Join(run, "id_ed25519"), KnownHosts: filepath.Join(run, "known_hosts")}}
}

// A pool whose one engine is reached over ssh:// (OpenSSH's sshd on loopback, `docker system dial-stdio`
// on the far side) builds and tests a project there: its image is on the second engine, which the ssh
// engine's dial-stdio reaches.
func TestSSHEngineBuildsAndTests(t *testing.T) {
	ec := sshEngine(t)
	if !strings.HasPrefix(ec.Host, "ssh://") {
		t.Fatalf("ssh-engine.sh printed %q, want an ssh:// address", ec.Host)
	}
	var sched *pipeline.Scheduler
	sv := newPoolServerOn(t, testPool(t, docker.DefaultCallTimeout, nil, pool.Config{"remote": ec}), 0, &sched)
	id := sv.commit("oversh", "build: {pool-app: .}\ntest: {command: [sh, -c, 'echo tests-ran-over-ssh']}\n")
	out := &dockertest.Buffer{}
	b := waitBuild(t, sv.start("oversh", out), out)
	if b.Status != baleen.StatusPassed || !strings.Contains(out.String(), "engine remote\n") || !strings.Contains(out.String(), "tests-ran-over-ssh") {
		t.Fatalf("build over ssh: %s (%s), want passed on engine remote with the tests' output; output:\n%s", b.Status, b.Message, out.String())
	}
	second := dockertest.SecondEngine(t, docker.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if ok, err := second.ImageExists(ctx, id.ImageTag("pool-app")); err != nil || !ok {
		t.Errorf("the build's image %s is not on the engine behind sshd (%v)", id.ImageTag("pool-app"), err)
	}
	st := sv.p.Status()
	if len(st) != 1 || st[0].State != pool.StateUp || st[0].Host != baleen.RedactURL(ec.Host) {
		t.Errorf("pool status: %+v, want the ssh engine up", st)
	}
}
