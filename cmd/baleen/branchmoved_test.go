package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
)

// TestServeBranchMovedWhileWaiting: a push of main whose build waits in the project's queue (behind a push
// of dev) while main is moved by another writer of the repository (as a mirror sync or an operator's
// git update-ref would) runs its tests but releases nothing: no latest tag, and the push is rejected with
// the reason, which the build's record keeps. The first push's build, whose branch stayed put, releases.
func TestServeBranchMovedWhileWaiting(t *testing.T) {
	s := newServer(t)
	s.start()
	instance := readInstance(t, s.data)
	r := s.newRepo(projectFiles("e2e-moved", gatedTest))
	first := r.head()
	r.git("branch", "dev")
	r.write(map[string]string{"README": "for main"})
	second := r.commit("for main")

	devPush, devErr := r.startPush(s.url("moved"), "dev")
	waitLine(t, devErr, "remote: gated test started")
	mainPush, mainErr := r.startPush(s.url("moved"), "main")
	waitLine(t, mainErr, "remote: waiting for build #1 of moved to finish")

	// While main's build waits, main appears at dev's commit, written past the push.
	repo := filepath.Join(s.data, "repos", "moved.git")
	if res := s.exec("", nil, "git", "--git-dir", repo, "update-ref", "refs/heads/main", first, ""); res.code != 0 {
		t.Fatalf("move main: %s", res)
	}
	s.release(baleen.BuildID("moved-1-" + instance))
	waitLine(t, devErr, "remote: PASSED")
	if err := devPush.Wait(); err != nil {
		t.Errorf("dev push: %v", err)
	}
	waitLine(t, mainErr, "remote: gated test started")
	s.release(baleen.BuildID("moved-2-" + instance))
	reason := "main moved to " + first[:12] + " while this build waited; not releasing"
	rest := waitLine(t, mainErr, "remote: "+reason)
	for mainErr.Scan() {
		rest += mainErr.Text() + "\n"
	}
	if err := mainPush.Wait(); err == nil {
		t.Errorf("main push exited 0, want a rejection:\n%s", rest)
	}
	if !strings.Contains(rest, "[remote rejected] main -> main (build #2 cancelled: "+reason+")") {
		t.Errorf("main push output lacks the rejection with its reason:\n%s", rest)
	}
	if got := s.remoteRef("moved", "refs/heads/main"); got != first {
		t.Errorf("main: got %s, want %s (where the other writer put it), not the build's %s", got, first, second)
	}
	img, err := s.engine.Client().ImageInspect(t.Context(), baleen.LatestTag("moved", "e2e-moved"))
	if err != nil {
		t.Fatalf("latest tag: %v", err)
	}
	if got, want := img.Config.Labels[baleen.LabelBuild], "moved-1-"+instance; got != want {
		t.Errorf("latest tag is build %s's image, want %s's (the build of a moved branch must not retag it)", got, want)
	}
	for _, b := range decodeBuilds(t, s.ssh("builds", "moved", "--json").stdout) {
		if b.Number == 2 && (b.Status != baleen.StatusCancelled || b.Message != reason) {
			t.Errorf("build #2 record: got %s %q, want cancelled %q", b.Status, b.Message, reason)
		}
	}
}
