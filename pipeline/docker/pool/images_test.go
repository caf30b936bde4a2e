package pool_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/deploy"
	"github.com/baleen-ci/baleen/deploy/hosttest"
	"github.com/baleen-ci/baleen/pipeline/docker"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
	"github.com/baleen-ci/baleen/pipeline/retention"
	"github.com/baleen-ci/baleen/store"
)

// buildOn builds on e, for build id, an image FROM busybox whose index.html says what, tagged
// id.ImageTag(name), and returns the tag; the build's objects are removed when the test ends.
func buildOn(t *testing.T, e *docker.Engine, id baleen.BuildID, name, what string) string {
	t.Helper()
	dockertest.Cleanup(t, e, id)
	dockerfile := fmt.Sprintf("FROM %s\nRUN mkdir -p /www && echo %s > /www/index.html && echo ok > /www/health\n"+
		`CMD ["sh", "-c", "httpd -f -p 8000 -h /www & pid=$!; trap 'kill $pid; exit 0' TERM; wait $pid"]`+"\n",
		dockertest.BusyboxImageOn(t, e), what)
	ref := id.ImageTag(name)
	req := baleen.ImageRequest{
		Image:   baleen.ImageBuild{Name: name, Dockerfile: "Dockerfile"},
		Context: fstest.MapFS{"Dockerfile": {Data: []byte(dockerfile), Mode: 0o644}},
		Ref:     ref,
	}
	var out strings.Builder
	if err := e.BuildImage(t.Context(), id, req, &out); err != nil {
		t.Fatalf("build %s: %v\n%s", ref, err, out.String())
	}
	return ref
}

// exists reports whether e has ref, failing the test when e cannot say.
func exists(t *testing.T, e baleen.ImageStore, ref string) bool {
	t.Helper()
	ok, err := e.ImageExists(t.Context(), ref)
	if err != nil {
		t.Fatalf("ImageExists(%s): %v", ref, err)
	}
	return ok
}

// Pruning through the pool's images removes an old build's image from the engine that built it, the
// second one, and keeps the green build's on the first.
func TestPoolImagesPrunedWhereBuilt(t *testing.T) {
	p := twoEngines(t, 2, nil)
	st, err := store.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	instance := fmt.Sprintf("i%d", time.Now().UnixNano()%1e9)
	project := "prune" + instance
	if err := st.CreateProject(ctx, baleen.Project{Name: project, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	refs := map[string]string{}
	for i, eng := range []string{"second", "first"} {
		b, err := st.CreateBuild(ctx, baleen.Build{Project: project, Commit: "c", Created: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		status := []baleen.Status{baleen.StatusFailed, baleen.StatusPassed}[i]
		if _, err := st.UpdateBuild(ctx, project, b.Number, baleen.BuildPatch{Status: &status}); err != nil {
			t.Fatal(err)
		}
		refs[eng] = buildOn(t, p.Engines()[eng], b.ID(instance), "baleen-test/prune", eng)
	}
	images := p.Images()
	if !exists(t, images, refs["second"]) || exists(t, p.Engines()["first"], refs["second"]) {
		t.Fatalf("the failed build's image should be on the second engine alone")
	}
	pr := &retention.Pruner{Builds: st, Images: images, Holds: retention.NewHolds(), Instance: instance, KeepGreen: 1}
	if err := pr.Prune(ctx, project); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if exists(t, p.Engines()["second"], refs["second"]) {
		t.Errorf("the failed build's image %s is still on the second engine", refs["second"])
	}
	if !exists(t, p.Engines()["first"], refs["first"]) {
		t.Errorf("the green build's image %s was removed from the first engine", refs["first"])
	}
}

// A release of an image built on the second engine ships it over SSH from there to a host, which runs it.
func TestPoolImagesShippedFromTheEngineThatBuilt(t *testing.T) {
	p := twoEngines(t, 2, nil)
	f := hosttest.Start(t, 1, hosttest.Options{})
	id := dockertest.BuildID(t)
	ref := buildOn(t, p.Engines()["second"], id, "baleen-test/shipped", "from-second")
	if exists(t, p.Engines()["first"], ref) {
		t.Fatalf("%s is on the first engine too; the test needs it on the second alone", ref)
	}
	d := deploy.New(deploy.Options{
		Targets: map[string]deploy.Target{"test": {Name: "test", User: "root", Identity: f.Identity, KnownHosts: f.KnownHosts,
			Hosts: []string{f.Hosts[0].Addr}}},
		Images: p.Images(),
		Grace:  2 * time.Second,
	})
	unit := baleen.DeployUnit{Name: "web", Image: "app", Ports: []string{"127.0.0.1:8080:8000"},
		Health: baleen.Health{HTTP: "http://127.0.0.1:8080/health", Timeout: time.Minute}}
	r := baleen.Release{Project: "shipped", Number: 1, Build: 1, Target: "test", Images: map[string]string{"app": ref}}
	var out strings.Builder
	res, err := d.Deploy(t.Context(), r, baleen.Deploy{Target: "test", Units: []baleen.DeployUnit{unit}}, &out)
	if err != nil {
		t.Fatalf("deploy: %v\n%s", err, out.String())
	}
	if len(res) != 1 || res[0].Status != baleen.StatusPassed {
		t.Fatalf("deploy: %+v, want one host passed\n%s", res, out.String())
	}
	if !strings.Contains(out.String(), "shipping "+ref+" over SSH") {
		t.Errorf("the image was not shipped over SSH:\n%s", out.String())
	}
	probe := `exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && cat <&3`
	got, err := f.Exec(t.Context(), f.Hosts[0], "bash", "-c", probe)
	if err != nil || !strings.Contains(got, "from-second") {
		t.Errorf("the host serves %q (%v), want the image built on the second engine", got, err)
	}
}
