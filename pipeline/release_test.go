package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline"
)

const deploySpec = `
build:
  app: .
test:
  command: ["./test.sh"]
deploy:
  target: prod
  units:
    web:
      image: app
      credentials: [DB_PASSWORD]
`

// fakeDeployer is a Deployer at the boundary of the hosts: each Deploy passes on every host, unless fail
// names the release number that fails on the second host. It prints the unit credential's value, which
// the output must mask.
type fakeDeployer struct {
	mu       sync.Mutex
	fail     int
	releases []baleen.Release
}

func (d *fakeDeployer) Deploy(_ context.Context, r baleen.Release, _ baleen.Deploy, out io.Writer) ([]baleen.HostResult, error) {
	d.mu.Lock()
	d.releases = append(d.releases, r)
	d.mu.Unlock()
	fmt.Fprintln(out, "deploying with password s3cret-db")
	hosts := []baleen.HostResult{{Host: "h1", Status: baleen.StatusPassed}, {Host: "h2", Status: baleen.StatusPassed}}
	if r.Number == d.fail {
		hosts[1] = baleen.HostResult{Host: "h2", Status: baleen.StatusFailed, Message: "host h2: unit web: unhealthy (password s3cret-db)"}
	}
	return hosts, nil
}

func (d *fakeDeployer) Status(context.Context, string, string, []string) ([]baleen.HostStatus, error) {
	return nil, nil
}

func (d *fakeDeployer) Journal(context.Context, baleen.JournalQuery, io.Writer) error { return nil }

func newDeployServer(t *testing.T, d *fakeDeployer) *server {
	return newServer(t, func(c *pipeline.SchedulerConfig) {
		c.Deployer = d
		c.Secret = func(name string) (string, bool) { return "s3cret-db", name == "DB_PASSWORD" }
	})
}

func TestDeployStageAndRollback(t *testing.T) {
	d := &fakeDeployer{fail: 3}
	sv := newDeployServer(t, d)
	sv.commit("web", "c1", deploySpec)
	evs := sv.bus.Subscribe(t.Context(), baleen.EventFilter{Kinds: []baleen.EventKind{
		baleen.EventReleaseStarted, baleen.EventHostSwitched, baleen.EventReleaseFinished}})
	var out syncBuffer
	if b := sv.run("web", "c1", &out); b.Status != baleen.StatusPassed {
		t.Fatalf("build #1: got %s (%s), want passed\n%s", b.Status, b.Message, out.String())
	}
	for _, want := range []string{"release #1 of web: build #1 to prod", "--> deploy passed in", "release #1 runs on 2 hosts", "DEPLOYED"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	var kinds []string
	for range 4 {
		e := <-evs
		kinds = append(kinds, string(e.Kind)+" "+e.Host+" "+string(e.Status))
	}
	if want := []string{"release_started  ", "host_switched h1 passed", "host_switched h2 passed", "release_finished  passed"}; !equal(kinds, want) {
		t.Errorf("release events: got %q, want %q", kinds, want)
	}
	if b := sv.run("web", "c1", io.Discard); b.Status != baleen.StatusPassed {
		t.Fatalf("build #2: got %s, want passed", b.Status)
	}
	// Release #3 fails on the second host: the build fails at deploy, and no secret reaches the records.
	out = syncBuffer{}
	b := sv.run("web", "c1", &out)
	if b.Status != baleen.StatusFailed || b.FailedStage != baleen.StageDeploy {
		t.Errorf("build #3: got %s at %q, want failed at deploy", b.Status, b.FailedStage)
	}
	rel, err := sv.st.Release(t.Context(), "web", 3)
	if err != nil || rel.Status != baleen.StatusFailed || !strings.Contains(rel.Message, "host h2") {
		t.Errorf("release #3: got %s %q, %v; want failed naming host h2", rel.Status, rel.Message, err)
	}
	if strings.Contains(out.String()+b.Message+rel.Message+rel.Hosts[1].Message, "s3cret-db") {
		t.Errorf("the unit credential reached the output or the records:\n%s", out.String())
	}
	// Rollback goes to the last passed release before the current one: #1, as a new release #4.
	out = syncBuffer{}
	got, err := sv.s.Rollback(t.Context(), "web", 0, "test", &out)
	if err != nil || got.Number != 4 || got.Build != 1 || got.Status != baleen.StatusPassed {
		t.Errorf("Rollback: got release #%d of build #%d %s, %v; want #4 of build #1 passed", got.Number, got.Build, got.Status, err)
	}
	if !strings.Contains(out.String(), "rolling web back to release #1 (build #1)") {
		t.Errorf("rollback output:\n%s", out.String())
	}
}

// A baleen.yml whose deploy.target the server does not have fails at its config stage, at the line, and
// nothing is built or deployed.
func TestUnknownDeployTargetFailsAtConfig(t *testing.T) {
	d := &fakeDeployer{}
	sv := newServer(t, func(c *pipeline.SchedulerConfig) {
		c.Deployer, c.DeployTargets = d, []string{"prod", "staging"}
		c.Secret = func(name string) (string, bool) { return "s3cret-db", name == "DB_PASSWORD" }
	})
	sv.commit("web", "c1", strings.Replace(deploySpec, "target: prod", "target: prdo", 1))
	var out syncBuffer
	b := sv.run("web", "c1", &out)
	want := `baleen.yml:7:11: deploy.target: "prdo" is not a target of this server; did you mean prod?`
	if b.Status != baleen.StatusFailed || b.FailedStage != baleen.StageConfig || !strings.Contains(out.String(), want) {
		t.Errorf("got %s at %q, want failed at config saying %q; output:\n%s", b.Status, b.FailedStage, want, out.String())
	}
	if len(d.releases) != 0 {
		t.Errorf("Deploy calls: got %d, want none", len(d.releases))
	}
	sv.commit("web", "c2", deploySpec)
	if b := sv.run("web", "c2", io.Discard); b.Status != baleen.StatusPassed || len(d.releases) != 1 {
		t.Errorf("with target prod: got %s and %d releases, want passed and 1", b.Status, len(d.releases))
	}
}

// A deploy of a build whose images were pruned is refused before any host is touched.
func TestDeployBuildRefusesPrunedImages(t *testing.T) {
	d := &fakeDeployer{}
	sv := newDeployServer(t, d)
	sv.commit("web", "c1", deploySpec)
	b := sv.run("web", "c1", io.Discard)
	for _, ref := range b.Images {
		sv.eng.RemoveImage(t.Context(), ref)
	}
	_, err := sv.s.DeployBuild(t.Context(), "web", b.Number, "test", io.Discard)
	if err == nil || !strings.Contains(err.Error(), "were pruned") {
		t.Errorf("DeployBuild of pruned images: got %v, want an error saying they were pruned", err)
	}
	if len(d.releases) != 1 {
		t.Errorf("Deploy calls: got %d, want 1 (the push's only)", len(d.releases))
	}
}

// A push with `-o deploy=false` builds and tests, and its green build deploys nothing.
func TestNoDeployBuildsWithoutRelease(t *testing.T) {
	d := &fakeDeployer{}
	sv := newDeployServer(t, d)
	sv.commit("web", "c1", deploySpec)
	var out syncBuffer
	b, err := sv.s.Run(t.Context(), pipeline.Request{Project: "web", Branch: "main", Commit: "c1", Pusher: "test", Out: &out, NoDeploy: true})
	if err != nil || b.Status != baleen.StatusPassed {
		t.Fatalf("build: got %s (%s), %v; want passed\n%s", b.Status, b.Message, err, out.String())
	}
	if !strings.Contains(out.String(), "skipped: the push said deploy=false") {
		t.Errorf("output lacks the skipped deploy:\n%s", out.String())
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.releases) != 0 {
		t.Errorf("deployer got %d releases, want none", len(d.releases))
	}
	if _, err := sv.st.Release(t.Context(), "web", 1); err == nil {
		t.Error("a release was recorded for a deploy=false push")
	}
}
