package main

import (
	"strings"
	"testing"
)

// TestServeDependencyNeedsReadRole stops a writer of shop-* from building, running and reading another
// project by naming it as a dependency: the push is refused in the same words whether the project exists
// or not, and the project is not built; a user who may read it builds with it; `ssh rebuild` acts for its
// caller.
func TestServeDependencyNeedsReadRole(t *testing.T) {
	s, _, shopper, _, _ := accessServer(t)
	secret := s.newRepo(serviceFiles("secret-svc", "1", false))
	want(t, secret.push(s.url("secret-svc"), "main"), 0, "PASSED in")

	web := s.newRepo(dependentFiles("shop-web", "  svc:\n    src: secret-svc\n"+readyHTTP, "svc"))
	refused := web.pushWith(shopper, s.url("shop-web"), "main")
	want(t, refused, 1, "depends.svc.src: secret-svc names no project of this server that shopper may read")
	api := s.newRepo(dependentFiles("shop-api", "  svc:\n    src: missing-svc\n"+readyHTTP, "svc"))
	missing := api.pushWith(shopper, s.url("shop-api"), "main")
	want(t, missing, 1, "depends.svc.src: missing-svc names no project of this server that shopper may read")
	if a, b := refusalLine(refused.stderr, "secret-svc"), refusalLine(missing.stderr, "missing-svc"); a == "" || a != b {
		t.Errorf("an unreadable project and a missing one are told apart:\n%q\n%q", a, b)
	}
	if bs := decodeBuilds(t, s.ssh("builds", "secret-svc", "--json").stdout); len(bs) != 1 {
		t.Errorf("secret-svc was built for shopper: %d builds, want the one pushed", len(bs))
	}

	// The admin of the authorized keys file reads every project: its push builds with secret-svc.
	want(t, web.push(s.url("shop-web"), "main"), 0, "reached secret-svc v1", "PASSED in")
	// A rebuild acts for its caller, not for the last pusher: shopper's is refused.
	want(t, s.sshWith(shopper, "rebuild", "shop-web"), 1, "depends.svc.src: secret-svc names no project of this server that shopper may read")
}

// refusalLine is the refusal of a dependency in out (from its place in baleen.yml on, without the stage's
// time), with the project's name replaced.
func refusalLine(out, project string) string {
	for _, l := range strings.Split(out, "\n") {
		if _, refusal, ok := strings.Cut(l, "depends.svc.src: "); ok && strings.Contains(l, "names no project of this server") {
			return strings.TrimSpace(strings.ReplaceAll(refusal, project, "X"))
		}
	}
	return ""
}
