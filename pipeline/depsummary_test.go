package pipeline_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
)

// TestDependencyOutputStaysInItsOwnLog stops a reader of a project from reading a dependency's build output
// through the dependent's log: the dependent's stored log (what ssh logs, the web and the API show) gets one
// line for the dependency build, while its watcher (the pusher) gets the dependency's output live, under
// the dependency's name, and the dependency's own log keeps it all.
func TestDependencyOutputStaysInItsOwnLog(t *testing.T) {
	sv := newServer(t, nil)
	sv.commit("svc", "s1", appSpec)
	sv.commit("app", "a1", dependsOn("svc"))
	var watched bytes.Buffer // the scheduler serialises the writes of the relays, and Run returns after them
	b := sv.run("app", "a1", &watched)
	if b.Status != baleen.StatusPassed || len(b.Dependencies) != 1 || b.Dependencies[0].Reused {
		t.Fatalf("app: got %s (%s) %+v, want passed with svc built", b.Status, b.Message, b.Dependencies)
	}
	summary := "dependency svc: build #1 of svc passed (ssh HOST logs svc 1)"
	stored := storedLog(t, sv, "app", b.Number)
	if !strings.Contains(stored, summary) || !strings.Contains(stored, "--- svc: building svc main at s1") {
		t.Errorf("app's stored log lacks the dependency's summary %q:\n%s", summary, stored)
	}
	if strings.Contains(stored, "svc | ") || strings.Contains(stored, "build #1 of svc: main") {
		t.Errorf("app's stored log holds svc's output:\n%s", stored)
	}
	own := storedLog(t, sv, "svc", 1)
	if !strings.Contains(own, "build #1 of svc: main at s1") || !strings.Contains(own, "PASSED") {
		t.Errorf("svc's own log lacks its output:\n%s", own)
	}
	live := watched.String()
	for _, line := range strings.Split(strings.TrimSpace(own), "\n") {
		if !strings.Contains(live, "svc | "+line+"\n") {
			t.Errorf("the watcher lacks svc's line %q:\n%s", line, live)
		}
	}
	if !strings.Contains(live, summary) {
		t.Errorf("the watcher lacks the summary %q:\n%s", summary, live)
	}
}

// TestFailedDependencyKeepsItsMessage stops a reader of a project from reading a failed dependency's
// message through the dependent's record and log: they name the dependency build, its status and stage,
// and where its log is, not what its message says.
func TestFailedDependencyKeepsItsMessage(t *testing.T) {
	sv := newServer(t, nil)
	sv.eng.FailBuild = map[string]string{"app": "svc-only detail"}
	sv.commit("svc", "s1", appSpec)
	sv.commit("app", "a1", dependsOn("svc"))
	b := sv.run("app", "a1", nil)
	want := "build #1 of svc failed: build (ssh HOST logs svc 1)"
	if b.Status != baleen.StatusFailed || !strings.Contains(b.Message, want) {
		t.Fatalf("app: got %s (%s), want failed with %q", b.Status, b.Message, want)
	}
	if own, err := sv.st.Build(t.Context(), "svc", 1); err != nil || !strings.Contains(own.Message, "svc-only detail") {
		t.Fatalf("svc's own record: got %+v, %v; want its message", own, err)
	}
	if stored := storedLog(t, sv, "app", b.Number); strings.Contains(b.Message, "svc-only detail") || strings.Contains(stored, "svc-only detail") {
		t.Errorf("app's record or log holds svc's message:\n%s\n%s", b.Message, stored)
	}
}
