package pipeline_test

import (
	"context"
	"crypto/rand"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/pipeline/docker"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
)

// pollFor polls cond every 100 ms until it holds, or fails the test after limit.
func pollFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting %s for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The second engine frozen (SIGSTOP) during the test stage: the push fails within the engine's per-call
// deadline, recorded as an infrastructure failure of the test stage, not a red test; once the engine is
// back, the pending teardown is retried and nothing labelled with the build is left.
func TestFrozenEngineFailsBuildForInfrastructure(t *testing.T) {
	var pid int // read at the fault: the engine the build runs on
	engineFault(t, func() {
		pid = dockertest.SecondEnginePID(t)
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatalf("SIGSTOP dockerd: %v", err)
		}
	}, func() {
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
			t.Fatalf("SIGCONT dockerd: %v", err)
		}
	})
}

// The second engine killed (kill -9) during the test stage: the same, once it is started again.
func TestKilledEngineFailsBuildForInfrastructure(t *testing.T) {
	engineFault(t, func() { dockertest.SecondEngineScript(t, "kill") }, func() { dockertest.SecondEngineScript(t, "start") })
}

// waitForTests waits until the build's tests print that they run, failing the test with the build's output if
// the build ends first or the tests do not start within five minutes (the engine may just have been
// restarted by another test, and the machine shared).
func waitForTests(t *testing.T, out *dockertest.Buffer, done <-chan baleen.Build) {
	t.Helper()
	deadline := time.After(5 * time.Minute)
	for !strings.Contains(out.String(), "tests-running") {
		select {
		case b := <-done:
			t.Fatalf("the build ended %s at %q (%s) before its tests ran; output:\n%s", b.Status, b.FailedStage, b.Message, out.String())
		case <-deadline:
			t.Fatalf("the tests did not start within five minutes; output so far:\n%s", out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// engineFault runs a build on the second engine, calls fault once its tests run, checks that the build
// failed for infrastructure, calls back (which brings the engine back, and may be called again) and checks
// that nothing of the build is left.
func engineFault(t *testing.T, fault, back func()) {
	// Not parallel: it takes the second engine away for everyone. The call deadline is generous: on a loaded
	// two-core machine creating and starting a container was seen to take more than 5 s.
	e := dockertest.SecondEngine(t, docker.Options{Name: "second", CallTimeout: 20 * time.Second, WatchInterval: time.Second})
	bb := dockertest.BusyboxImageOn(t, e)
	sv := newServer(t, func(c *pipeline.SchedulerConfig) {
		c.Pipeline, c.Images = pipeline.New(e, nil), e
		c.Teardowns = c.Builds.(pipeline.Teardowns)
	})
	// A project of its own per run: objects an earlier, interrupted run left on the engine cannot collide.
	project := "frozen-" + strings.ToLower(rand.Text()[:8])
	id := (&baleen.Build{Project: project, Number: 1}).ID("abcd0123")
	dockertest.Cleanup(t, e, id)
	// Registered after Cleanup, so run before it: the engine must answer again for the teardown.
	t.Cleanup(back)
	const spec = "build: {frozen-app: .}\ntest: {command: [sh, -c, 'echo tests-running; sleep 300']}\n"
	sv.commit(project, "c1", spec) // the project
	sv.repos.Commit(project, "main", "c1", map[string]string{
		"baleen.yml": spec,
		"Dockerfile": "FROM " + bb + "\n",
	})
	var out dockertest.Buffer
	done := sv.start(project, "c1", &out)
	var b baleen.Build
	waitForTests(t, &out, done)
	fault()
	select {
	case b = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the build on an engine that failed did not end within two minutes; output:\n%s", out.String())
	}
	if b.Status != baleen.StatusFailed || b.FailedStage != baleen.StageTest || !baleen.Infrastructure(b.Status, b.Message) {
		t.Errorf("build ended %s at %q: %q, want an infrastructure failure at test", b.Status, b.FailedStage, b.Message)
	}
	if !strings.Contains(b.Message, "engine second stopped answering") {
		t.Errorf("message %q does not name the engine that stopped answering", b.Message)
	}
	if !strings.Contains(out.String(), "FAILED (infrastructure)") {
		t.Errorf("push output does not say the infrastructure failed:\n%s", out.String())
	}

	back()
	pollFor(t, 2*time.Minute, "the pending teardown to be done", func() bool {
		if err := sv.s.RetryTeardowns(context.Background()); err != nil {
			return false
		}
		pending, err := sv.st.PendingTeardowns(context.Background())
		return err == nil && len(pending) == 0
	})
	left, err := e.LeftoverBuilds(context.Background())
	if err != nil {
		t.Fatalf("LeftoverBuilds: %v", err)
	}
	if slices.Contains(left, id) {
		t.Errorf("objects of build %s left on the engine after its teardown was confirmed", id)
	}
}
