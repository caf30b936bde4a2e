package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
)

// An engine that stops answering during the tests fails the build for infrastructure, at the test stage,
// never as a red test; the push output and the record both say so.
func TestEngineFaultIsInfrastructureFailure(t *testing.T) {
	sv := newServer(t, nil)
	sv.eng.Test = func(context.Context, baleen.BuildID, baleen.ContainerSpec, io.Writer) (int, error) {
		return -1, fmt.Errorf("engine local stopped answering: wait for container: %w", baleen.ErrUnavailable)
	}
	sv.commit("app", "c1", appSpec)
	var out bytes.Buffer
	b := sv.run("app", "c1", &out)
	if b.Status != baleen.StatusFailed || b.FailedStage != baleen.StageTest {
		t.Fatalf("build ended %s at %q, want failed at test", b.Status, b.FailedStage)
	}
	if !baleen.Infrastructure(b.Status, b.Message) {
		t.Errorf("message %q is not marked as infrastructure", b.Message)
	}
	if !strings.Contains(b.Message, "engine local stopped answering") {
		t.Errorf("message %q does not carry the engine's reason", b.Message)
	}
	if !strings.Contains(out.String(), "FAILED (infrastructure)") {
		t.Errorf("push output does not say the infrastructure failed:\n%s", out.String())
	}
	for _, st := range b.Stages {
		if st.Stage == baleen.StageTest && !baleen.Infrastructure(st.Status, st.Message) {
			t.Errorf("test stage recorded %s %q, want an infrastructure failure", st.Status, st.Message)
		}
	}
}

// A red test stays a test failure: only errors of the infrastructure are marked.
func TestRedTestIsNotInfrastructure(t *testing.T) {
	sv := newServer(t, nil)
	sv.eng.Test = func(context.Context, baleen.BuildID, baleen.ContainerSpec, io.Writer) (int, error) { return 1, nil }
	sv.commit("app", "c1", appSpec)
	b := sv.run("app", "c1", nil)
	if b.Status != baleen.StatusFailed || baleen.Infrastructure(b.Status, b.Message) {
		t.Fatalf("red test recorded %s %q, want a plain test failure", b.Status, b.Message)
	}
}

