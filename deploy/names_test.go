package deploy_test

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/deploy/hosttest"
	"github.com/baleen-ci/baleen/pipeline/docker"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
)

// staticImage is appImage (healthy) built without a RUN step, so that its build needs no container.
func staticImage(t *testing.T, e *docker.Engine, id baleen.BuildID, version string) string {
	t.Helper()
	ref := id.ImageTag("baleen-test/static-" + version)
	req := baleen.ImageRequest{
		Image: baleen.ImageBuild{Name: "app", Dockerfile: "Dockerfile"},
		Context: fstest.MapFS{
			"Dockerfile":     {Data: []byte(fmt.Sprintf("FROM %s\nCOPY www /www\nCMD %s\n", dockertest.BusyboxImage(t), serveCmd)), Mode: 0o644},
			"www/index.html": {Data: []byte(version + "\n"), Mode: 0o644},
			"www/health":     {Data: []byte("ok\n"), Mode: 0o644},
		},
		Ref: ref,
	}
	var out strings.Builder
	if err := e.BuildImage(t.Context(), id, req, &out); err != nil {
		t.Fatalf("build %s: %v\n%s", ref, err, out.String())
	}
	return ref
}

// TestProjectsWhoseUnitNamesCollidedDeploySideBySide stops one project from replacing another's unit, its
// environment file (with its credentials) and its container: shop-api's unit db and shop's unit api-db were
// both "shop-api-db" before units were namespaced. Both deploy to one host and both keep running.
func TestProjectsWhoseUnitNamesCollidedDeploySideBySide(t *testing.T) {
	f, e, id, d := setup(t, 1, hosttest.Options{})
	v1, v2 := staticImage(t, e, id, "one"), staticImage(t, e, id, "two")
	a := baleen.DeployUnit{Name: "db", Image: "app", Ports: []string{"127.0.0.1:8080:8000"}, Credentials: []string{"DB_PASSWORD"},
		Health: baleen.Health{HTTP: "http://127.0.0.1:8080/health"}}
	b := baleen.DeployUnit{Name: "api-db", Image: "app", Ports: []string{"127.0.0.1:8081:8000"},
		Health: baleen.Health{HTTP: "http://127.0.0.1:8081/health"}}
	if res, out := deployRelease(t, d, "shop-api", 1, v1, "rolling", a); res[0].Status != baleen.StatusPassed {
		t.Fatalf("shop-api: %s\n%s", res[0].Message, out)
	}
	if res, out := deployRelease(t, d, "shop", 1, v2, "rolling", b); res[0].Status != baleen.StatusPassed {
		t.Fatalf("shop: %s\n%s", res[0].Message, out)
	}
	h := f.Hosts[0]
	if got := servesOn(t, f, h, 8080); got != "one" {
		t.Errorf("shop-api/db serves %q, want one", got)
	}
	if got := servesOn(t, f, h, 8081); got != "two" {
		t.Errorf("shop/api-db serves %q, want two", got)
	}
	env, err := f.Exec(t.Context(), h, "cat", "/etc/baleen/baleen-shop..api-db.env")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(env, "DB_PASSWORD") {
		t.Errorf("shop's unit api-db got shop-api's credential:\n%s", env)
	}
	st, err := d.Status(t.Context(), "shop-api", "test", []string{"db"})
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || len(st[0].Units) != 1 || st[0].Units[0].Active != "active" || st[0].Units[0].Release != 1 {
		t.Errorf("status of shop-api/db: got %+v, want active on release 1", st)
	}
}

// TestUnitOfAnotherProjectNeverTouched: a unit whose state file names another project (or unit) than the
// one being deployed is left as it is, and the host refused, whatever put it there.
func TestUnitOfAnotherProjectNeverTouched(t *testing.T) {
	f, e, id, d := setup(t, 1, hosttest.Options{})
	v1 := staticImage(t, e, id, "one")
	h := f.Hosts[0]
	const planted = `{"v":1,"project":"other","unit":"web","release":7,"build":7,"image":"x","deployed":"2026-01-01T00:00:00Z"}`
	if _, err := f.Exec(t.Context(), h, "sh", "-c", "mkdir -p /etc/baleen && printf '%s' '"+planted+"' > /etc/baleen/baleen-shop..web.release"); err != nil {
		t.Fatal(err)
	}
	res, out := deployRelease(t, d, "shop", 1, v1, "rolling", webUnit(0))
	if res[0].Status != baleen.StatusFailed || !strings.Contains(res[0].Message, "names project other") {
		t.Fatalf("got %s %q, want failed naming project other\n%s", res[0].Status, res[0].Message, out)
	}
	got, err := f.Exec(t.Context(), h, "sh", "-c", "cat /etc/baleen/baleen-shop..web.release; ls /etc/systemd/system/baleen-shop..web.service 2>&1 || true")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, planted) || !strings.Contains(got, "No such file") {
		t.Errorf("host after the refused deploy:\n%s\nwant the planted state and no unit", got)
	}
}

// TestJournalMasksTheUnitsSecret stops `logs --unit` from showing a credential that a deployed unit
// prints: the journal is read with the values of the unit's credentials masked.
func TestJournalMasksTheUnitsSecret(t *testing.T) {
	f, e, id, d := setup(t, 1, hosttest.Options{})
	v1 := staticImage(t, e, id, "one")
	u := webUnit(0)
	u.Command = baleen.Command{Shell: "echo leaked=$DB_PASSWORD; exec httpd -f -p 8000 -h /www"}
	if res, out := deployRelease(t, d, "shop", 1, v1, "rolling", u); res[0].Status != baleen.StatusPassed {
		t.Fatalf("deploy: %s\n%s", res[0].Message, out)
	}
	h := f.Hosts[0]
	raw, err := f.Exec(t.Context(), h, "journalctl", "--no-pager", "--unit=baleen-shop..web.service")
	if err != nil || !strings.Contains(raw, "leaked="+secretValue) {
		t.Fatalf("the unit did not print its secret to the journal (%v); the test proves nothing:\n%s", err, raw)
	}
	var out strings.Builder
	if err := d.Journal(t.Context(), baleen.JournalQuery{Project: "shop", Target: "test", Unit: "web"}, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), secretValue) || !strings.Contains(out.String(), "leaked=********") {
		t.Errorf("journal: got\n%s\nwant leaked=******** and never the value", out.String())
	}
}
