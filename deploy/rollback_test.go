package deploy_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/deploy/hosttest"
)

// gatedUnit is webUnit whose health check passes only on hosts that have the file /etc/ok-<gate>: a
// release that is healthy on some hosts of a target and not on others.
func gatedUnit(gate string) baleen.DeployUnit {
	u := webUnit(5 * time.Second)
	u.Health = baleen.Health{Command: baleen.Command{Exec: []string{"test", "-e", "/etc/ok-" + gate}}, Timeout: 5 * time.Second}
	return u
}

// TestDeployFailureReturnsEveryHost stops a failed rollout from leaving the target split between two
// releases: when a later host fails, the hosts that had already switched are returned to their previous
// release too (and a first release is removed from them), under both strategies, and no switch is left
// under way on any host.
func TestDeployFailureReturnsEveryHost(t *testing.T) {
	f, e, id, d := setup(t, 2, hosttest.Options{})
	v1 := appImage(t, e, id, "v1", true)
	v2 := appImage(t, e, id, "v2", true)
	touch := func(h hosttest.Host, gate string) {
		t.Helper()
		if _, err := f.Exec(t.Context(), h, "touch", "/etc/ok-"+gate); err != nil {
			t.Fatal(err)
		}
	}
	wantBack := func(label string, res []baleen.HostResult, out string) {
		t.Helper()
		if got, want := fmt.Sprint(statuses(res)), "[failed failed]"; got != want {
			t.Fatalf("%s: got %s, want %s\n%s", label, got, want, out)
		}
		for _, want := range []string{"returned to its previous release", f.Hosts[1].Addr, "health check"} {
			if !strings.Contains(res[0].Message, want) {
				t.Errorf("%s: the first host's message lacks %q:\n%s", label, want, res[0].Message)
			}
		}
	}

	// A first release that fails on the second host leaves no trace on the first.
	touch(f.Hosts[0], "1")
	res, out := deployRelease(t, d, "shop", 1, v1, "rolling", gatedUnit("1"))
	wantBack("first release", res, out)
	for _, h := range f.Hosts {
		untouched(t, f, h)
	}

	touch(f.Hosts[1], "1")
	if res, out := deployRelease(t, d, "shop", 1, v1, "rolling", gatedUnit("1")); fmt.Sprint(statuses(res)) != "[passed passed]" {
		t.Fatalf("release 1: got %+v, want both passed\n%s", res, out)
	}

	// Release 2 is healthy on the first host only: both hosts end on release 1, under either strategy.
	touch(f.Hosts[0], "2")
	for i, strategy := range []string{"rolling", "all"} {
		res, out := deployRelease(t, d, "shop", 2+i, v2, strategy, gatedUnit("2"))
		wantBack(strategy, res, out)
		for _, h := range f.Hosts {
			if got, want := serves(t, f, h), "v1"; got != want {
				t.Errorf("%s: host %s serves %q, want %q", strategy, h.Name, got, want)
			}
			left, err := f.Exec(t.Context(), h, "sh", "-c", "cd /etc/baleen && ls && cat baleen-shop..web.release")
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(left, ".switch") || strings.Contains(left, ".prev") || strings.Contains(left, ".new") {
				t.Errorf("%s: host %s has a switch under way:\n%s", strategy, h.Name, left)
			}
			if !strings.Contains(left, `"release":1,`) {
				t.Errorf("%s: host %s records another release than 1:\n%s", strategy, h.Name, left)
			}
		}
	}
}

// TestDeployStageFailureLeavesNothing: a host where writing a unit's files fails half way (here the
// environment file's temporary name is taken by a directory) is left without any staged file of the
// unit, and the message names the host, the unit and the step.
func TestDeployStageFailureLeavesNothing(t *testing.T) {
	f, e, id, d := setup(t, 1, hosttest.Options{})
	h := f.Hosts[0]
	v1 := appImage(t, e, id, "v1", true)
	if _, err := f.Exec(t.Context(), h, "mkdir", "-p", "/etc/baleen/baleen-shop..web.env.new.tmp"); err != nil {
		t.Fatal(err)
	}
	res, out := deployRelease(t, d, "shop", 1, v1, "", webUnit(5*time.Second))
	if res[0].Status != baleen.StatusFailed {
		t.Fatalf("got %+v, want failed\n%s", res, out)
	}
	for _, want := range []string{h.Addr, "baleen-shop..web.service", "write unit files"} {
		if !strings.Contains(res[0].Message, want) {
			t.Errorf("message lacks %q:\n%s", want, res[0].Message)
		}
	}
	if _, err := f.Exec(t.Context(), h, "rmdir", "/etc/baleen/baleen-shop..web.env.new.tmp"); err != nil {
		t.Fatal(err)
	}
	untouched(t, f, h)
}
