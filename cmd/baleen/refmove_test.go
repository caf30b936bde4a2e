package main

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
)

// TestServeKilledBetweenVerdictAndRefMove: a server killed (SIGKILL) after a push's build is recorded
// passed and before the push moved its branch completes the move when it starts again: the branch ends on
// the green commit, as the build's verdict says. Before, it stayed where it was for good.
func TestServeKilledBetweenVerdictAndRefMove(t *testing.T) {
	s := newServer(t)
	r := s.newRepo(projectFiles("e2e-refmove", greenTest))
	first := r.head()
	// The push that creates main, then one that moves it: each killed before its ref move.
	pushKilledBeforeRefMove(t, s, r, "")
	if got := s.remoteRef("refmove", "refs/heads/main"); got != first {
		t.Errorf("main after the restart: got %q, want %s, the commit of green build #1 (created)", got, first)
	}
	r.write(map[string]string{"README": "second"})
	second := r.commit("second")
	s.stop(syscall.SIGTERM)
	pushKilledBeforeRefMove(t, s, r, first)
	if got := s.remoteRef("refmove", "refs/heads/main"); got != second {
		t.Errorf("main after the restart: got %q, want %s, the commit of green build #2", got, second)
	}
	for n := 1; n <= 2; n++ {
		if st := s.waitFinal("refmove", n); st != baleen.StatusPassed {
			t.Errorf("build #%d: got %s, want passed", n, st)
		}
	}
	if !strings.Contains(s.log.String(), "ref moved after a restart") {
		t.Errorf("the server log does not say it completed the ref move")
	}
}

// pushKilledBeforeRefMove starts the server holding pushes before their ref moves, pushes main, kills
// the server (SIGKILL) once the build passed and the push is held, checks that main is still at old ("":
// no branch), and starts the server again without the fault.
func pushKilledBeforeRefMove(t *testing.T, s *server, r *repo, old string) {
	t.Helper()
	t.Setenv(refMoveFaultEnv, "1")
	s.start()
	push, stderr := r.startPush(s.url("refmove"), "main")
	waitLine(t, stderr, "remote: PASSED")
	s.waitLog("holding before the ref move")
	s.stop(syscall.SIGKILL)
	push.Wait()
	if got := s.remoteRef("refmove", "refs/heads/main"); got != old {
		t.Fatalf("main right after the kill: got %q, want %q (the fault holds the push before its ref move)", got, old)
	}
	os.Unsetenv(refMoveFaultEnv)
	s.start()
}

// waitLog polls the server's log until it holds text, for two minutes at most.
func (s *server) waitLog(text string) {
	s.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(s.log.String(), text) {
		if time.Now().After(deadline) {
			s.t.Fatalf("the server log did not say %q within 2 minutes:\n%s", text, s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
