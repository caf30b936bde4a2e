package main

import (
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/baleen-ci/baleen"
)

// TestServeKilledBeforeRefMoveRebuildsDependents: a server killed (SIGKILL) after a dependency's green
// build and before its push moved the branch moves the branch when it starts again, and then rebuilds the
// project that depends on it, as the push would have. Before, the rebuild was held in memory alone and the
// kill lost it.
func TestServeKilledBeforeRefMoveRebuildsDependents(t *testing.T) {
	s := newServer(t)
	s.start()
	users := s.newRepo(serviceFiles("users", "1", false))
	want(t, users.push(s.url("users"), "main"), 0, "PASSED")
	api := s.newRepo(dependentFiles("api", "  users:\n    src: users\n"+readyHTTP, "users"))
	want(t, api.push(s.url("api"), "main"), 0, "remote: reached users v1", "remote: PASSED")

	users.write(map[string]string{"serve.sh": serviceFiles("users", "2", false)["serve.sh"]})
	second := users.commit("users v2")
	s.stop(syscall.SIGTERM)
	t.Setenv(refMoveFaultEnv, "1")
	s.start()
	push, stderr := users.startPush(s.url("users"), "main")
	waitLine(t, stderr, "rebuild of the projects that depend on it: api (main)")
	s.waitLog("holding before the ref move")
	s.stop(syscall.SIGKILL)
	push.Wait()
	os.Unsetenv(refMoveFaultEnv)
	s.start()

	if got := s.remoteRef("users", "refs/heads/main"); got != second {
		t.Errorf("users' main after the restart: got %q, want %s, its green build's commit", got, second)
	}
	if got := s.waitFinal("api", 2); got != baleen.StatusPassed {
		t.Errorf("api's rebuild after the restart: got %s, want passed", got)
	}
	want(t, s.ssh("logs", "api", "2"), 0, "reached users v2")
	bs := decodeBuilds(t, s.ssh("builds", "api", "--json").stdout)
	if len(bs) != 2 || bs[0].Pusher != "rebuild after users main" {
		t.Errorf("api's builds: got %+v, want 2, the latest a rebuild after users main", bs)
	}
	if !strings.Contains(s.log.String(), "rebuild of dependent queued after a restart") {
		t.Errorf("the server log does not say it queued the rebuild after the restart")
	}
}
