package main

import (
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/baleen-ci/baleen"
)

// TestServeKilledBetweenAtomicVerdictsAndRefMoves: a server killed (SIGKILL) after the builds of an atomic
// push of two branches are recorded passed and before the push moved them moves both when it starts again.
// When one of them moved while the server was down, neither moves, and each green build's record says
// why. Before, an atomic push kept no ref move pending, and both branches stayed where they were for good.
func TestServeKilledBetweenAtomicVerdictsAndRefMoves(t *testing.T) {
	s := newServer(t)
	r := s.newRepo(projectFiles("e2e-atomic-crash", greenTest))
	first := r.head()
	atomicPushKilledBeforeRefMoves(t, s, r, "", nil)
	for _, ref := range []string{"refs/heads/main", "refs/heads/dev"} {
		if got := s.remoteRef("atomic", ref); got != first {
			t.Errorf("%s after the restart: got %q, want %s, the commit of its green build", ref, got, first)
		}
	}
	if !strings.Contains(s.log.String(), "refs of an atomic push moved after a restart") {
		t.Errorf("the server log does not say it completed the atomic push's ref moves")
	}

	r.write(map[string]string{"README": "second"})
	r.commit("second")
	s.stop(syscall.SIGTERM)
	// While the server is down, dev is deleted by hand.
	atomicPushKilledBeforeRefMoves(t, s, r, first, func() {
		s.exec("", nil, "git", "--git-dir", s.data+"/repos/atomic.git", "update-ref", "-d", "refs/heads/dev")
	})
	if got := s.remoteRef("atomic", "refs/heads/main"); got != first {
		t.Errorf("main after the restart: got %q, want %s: dev moved meanwhile, so neither moves", got, first)
	}
	if got := s.remoteRef("atomic", "refs/heads/dev"); got != "" {
		t.Errorf("dev after the restart: got %q, want it deleted still", got)
	}
	for n := 3; n <= 4; n++ {
		if st := s.waitFinal("atomic", n); st != baleen.StatusPassed {
			t.Errorf("build #%d: got %s, want passed", n, st)
		}
	}
	for _, b := range decodeBuilds(t, s.ssh("builds", "atomic", "--json").stdout) {
		if b.Number >= 3 && !strings.Contains(b.Message, "was not moved: dev no longer held") {
			t.Errorf("build #%d: got message %q, want it to say why its branch was not moved", b.Number, b.Message)
		}
	}
}

// atomicPushKilledBeforeRefMoves starts the server holding pushes before their ref moves, pushes main and
// main:dev with --atomic, kills the server (SIGKILL) once both builds have their verdicts and the push is
// held, checks that both branches are still at old ("": no branch), runs meanwhile (when not nil) and
// starts the server again without the fault.
func atomicPushKilledBeforeRefMoves(t *testing.T, s *server, r *repo, old string, meanwhile func()) {
	t.Helper()
	t.Setenv(refMoveFaultEnv, "1")
	s.start()
	push, stderr := r.startPush("--atomic", s.url("atomic"), "main", "main:dev")
	waitLine(t, stderr, "remote: PASSED")
	s.waitLog("holding before the ref move")
	s.stop(syscall.SIGKILL)
	push.Wait()
	for _, ref := range []string{"refs/heads/main", "refs/heads/dev"} {
		if got := s.remoteRef("atomic", ref); got != old {
			t.Fatalf("%s right after the kill: got %q, want %q (the fault holds the push before its ref moves)", ref, got, old)
		}
	}
	if meanwhile != nil {
		meanwhile()
	}
	os.Unsetenv(refMoveFaultEnv)
	s.start()
}
