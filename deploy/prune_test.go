package deploy_test

import (
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/deploy"
	"github.com/baleen-ci/baleen/deploy/hosttest"
)

// TestDeployPrunesOldImages deploys three releases to a real systemd host with KeepImages 2: after the
// third, the host's engine holds the images of the last two releases and no longer the first's, and the
// third serves.
func TestDeployPrunesOldImages(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Docker and the host image")
	}
	f, e, id, _ := setup(t, 1, hosttest.Options{})
	d := deploy.New(deploy.Options{
		Targets: map[string]deploy.Target{"test": {
			Name: "test", User: "root", Identity: f.Identity, KnownHosts: f.KnownHosts, Hosts: []string{f.Hosts[0].Addr},
		}},
		Images: e, Grace: testGrace, KeepImages: 2,
		Secret: func(string) (string, bool) { return secretValue, true },
	})
	var images []string
	for i, v := range []string{"v1", "v2", "v3"} {
		img := appImage(t, e, id, v, true)
		images = append(images, img)
		res, out := deployRelease(t, d, "app", i+1, img, deploy.StrategyRolling, webUnit(20*time.Second))
		if len(res) != 1 || res[0].Status != baleen.StatusPassed {
			t.Fatalf("release %d: %v\n%s", i+1, res, out)
		}
	}
	h := f.Hosts[0]
	if got := serves(t, f, h); got != "v3" {
		t.Fatalf("after release 3 the host serves %q, want v3", got)
	}
	for i, img := range images {
		_, err := f.Exec(t.Context(), h, "docker", "image", "inspect", img)
		if has, want := err == nil, i > 0; has != want {
			t.Errorf("release %d's image %s on the host: present %v, want %v", i+1, img, has, want)
		}
	}
}
