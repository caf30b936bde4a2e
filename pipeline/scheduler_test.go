package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/events"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/pipeline/enginetest"
	"github.com/baleen-ci/baleen/store"
)

// The scheduler's tests run on the scripted engine and in-memory repositories, with a real store in a
// temporary directory: they need no Docker, no git and no network, and run under -short.

const appSpec = `
build:
  app: .
test:
  command: ["./test.sh"]
`

// server is a Scheduler on a fake engine.
type server struct {
	t     *testing.T
	eng   *enginetest.Engine
	repos *enginetest.Repos
	st    *store.Store
	bus   *events.Bus
	s     *pipeline.Scheduler
}

func newServer(t *testing.T, configure func(*pipeline.SchedulerConfig)) *server {
	t.Helper()
	st, err := store.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	sv := &server{t: t, eng: enginetest.New(), repos: enginetest.NewRepos(), st: st, bus: events.New(0)}
	cfg := pipeline.SchedulerConfig{
		Pipeline: pipeline.New(sv.eng, nil), Projects: st, Builds: st, Repos: sv.repos, Images: sv.eng, Events: sv.bus,
		Releases: st, ArtifactsDir: t.TempDir(), Instance: "abcd0123", Concurrency: 4,
	}
	if configure != nil {
		configure(&cfg)
	}
	sv.s = pipeline.NewScheduler(cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		sv.s.Shutdown(ctx)
	})
	return sv
}

// commit stores a commit of project on branch main with baleen.yml spec, making the project if need be.
func (sv *server) commit(project, commit, spec string) {
	sv.t.Helper()
	err := sv.st.CreateProject(context.Background(), baleen.Project{Name: project, Created: time.Now().UTC()})
	if err != nil && !errors.Is(err, baleen.ErrExists) {
		sv.t.Fatalf("create project: %v", err)
	}
	sv.repos.Commit(project, "main", commit, map[string]string{"baleen.yml": spec, "Dockerfile": "FROM scratch\n", "test.sh": "true\n"})
}

// run runs a build of commit and fails the test on an error.
func (sv *server) run(project, commit string, out io.Writer) baleen.Build {
	sv.t.Helper()
	b, err := sv.s.Run(context.Background(), pipeline.Request{Project: project, Branch: "main", Commit: commit, Pusher: "test", Out: out})
	if err != nil {
		sv.t.Fatalf("Run %s %s: %v", project, commit, err)
	}
	return b
}

// start runs a build in the background; the channel yields its record.
func (sv *server) start(project, commit string, out io.Writer) <-chan baleen.Build {
	ch := make(chan baleen.Build, 1)
	go func() {
		b, err := sv.s.Run(context.Background(), pipeline.Request{Project: project, Branch: "main", Commit: commit, Pusher: "test", Out: out})
		if err != nil {
			b.Message = err.Error()
		}
		ch <- b
	}()
	return ch
}

// gate is a test container that says it started, then waits for open (exit 0) or for its context.
type gate struct {
	started chan string
	open    chan struct{}
}

func newGate() *gate { return &gate{started: make(chan string, 16), open: make(chan struct{})} }

func (g *gate) test(ctx context.Context, id baleen.BuildID, _ baleen.ContainerSpec, out io.Writer) (int, error) {
	fmt.Fprintln(out, "gated test started")
	g.started <- string(id)
	select {
	case <-g.open:
		return 0, nil
	case <-ctx.Done():
		return -1, ctx.Err()
	}
}

func (g *gate) waitStarted(t *testing.T) string {
	t.Helper()
	select {
	case id := <-g.started:
		return id
	case <-time.After(30 * time.Second):
		t.Fatal("gave up waiting for a gated test to start")
		return ""
	}
}

func wait(t *testing.T, ch <-chan baleen.Build) baleen.Build {
	t.Helper()
	select {
	case b := <-ch:
		return b
	case <-time.After(30 * time.Second):
		t.Fatal("gave up waiting for a build to end")
		return baleen.Build{}
	}
}

// waitFor polls cond until it holds, or fails the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSchedulerPassesAndRecords(t *testing.T) {
	sv := newServer(t, nil)
	sv.commit("app", "c1", appSpec)
	var out syncBuffer
	b := sv.run("app", "c1", &out)
	if b.Status != baleen.StatusPassed {
		t.Fatalf("got %s (%s), want passed; output:\n%s", b.Status, b.Message, out.String())
	}
	var stages []baleen.Stage
	for _, s := range b.Stages {
		stages = append(stages, s.Stage)
	}
	if got, want := stages, []baleen.Stage{"config", "build", "depends", "test", "artifacts", "tag"}; !equal(got, want) {
		t.Errorf("stages: got %v, want %v", got, want)
	}
	for _, want := range []string{"build #1 of app: main at c1", "==> config", "--> test passed in", "tests ran", "PASSED in"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if sv.eng.Containers() != 0 {
		t.Errorf("containers left after the build: %d, want 0", sv.eng.Containers())
	}
}

func TestSchedulerNothingToBuild(t *testing.T) {
	sv := newServer(t, nil)
	sv.commit("app", "c1", appSpec)
	sv.repos.Commit("app", "plain", "c2", map[string]string{"README": "hi"})
	_, err := sv.s.Run(t.Context(), pipeline.Request{Project: "app", Branch: "plain", Commit: "c2"})
	if !errors.Is(err, pipeline.ErrNothingToBuild) {
		t.Errorf("got %v, want ErrNothingToBuild", err)
	}
	if bs, _ := sv.st.Builds(t.Context(), baleen.BuildFilter{Project: "app"}); len(bs) != 0 {
		t.Errorf("builds recorded: %d, want 0", len(bs))
	}
}

func TestSchedulerConfigFailure(t *testing.T) {
	sv := newServer(t, nil)
	sv.commit("app", "c1", "build: [\n")
	var out syncBuffer
	b := sv.run("app", "c1", &out)
	if b.Status != baleen.StatusFailed || b.FailedStage != baleen.StageConfig || b.Message != "baleen.yml is not valid" {
		t.Errorf("got %s at %q (%s), want failed at config: baleen.yml is not valid", b.Status, b.FailedStage, b.Message)
	}
	if !strings.Contains(out.String(), "FAILED: config") {
		t.Errorf("output lacks the verdict:\n%s", out.String())
	}
}

func TestSchedulerOneBuildPerProject(t *testing.T) {
	g := newGate()
	sv := newServer(t, nil)
	sv.eng.Test = g.test
	sv.commit("app", "c1", appSpec)
	sv.commit("app", "c2", appSpec)
	var second syncBuffer
	first := sv.start("app", "c1", io.Discard)
	g.waitStarted(t)
	waiting := second.when("waiting for build #1 of app to finish")
	secondDone := sv.start("app", "c2", &second)
	<-waiting
	close(g.open)
	if b := wait(t, first); b.Status != baleen.StatusPassed {
		t.Errorf("first: got %s, want passed", b.Status)
	}
	if b := wait(t, secondDone); b.Status != baleen.StatusPassed || b.Number != 2 {
		t.Errorf("second: got #%d %s, want #2 passed", b.Number, b.Status)
	}
}

func TestSchedulerSlots(t *testing.T) {
	g := newGate()
	sv := newServer(t, func(c *pipeline.SchedulerConfig) { c.Concurrency = 1 })
	sv.eng.Test = g.test
	sv.commit("one", "c1", appSpec)
	sv.commit("two", "c1", appSpec)
	first := sv.start("one", "c1", io.Discard)
	g.waitStarted(t)
	var out syncBuffer
	waiting := out.when("waiting for a free build slot (1 builds run at once)")
	second := sv.start("two", "c1", &out)
	<-waiting
	close(g.open)
	for _, ch := range []<-chan baleen.Build{first, second} {
		if b := wait(t, ch); b.Status != baleen.StatusPassed {
			t.Errorf("%s: got %s, want passed", b.Project, b.Status)
		}
	}
}

func TestSchedulerCancel(t *testing.T) {
	g := newGate()
	sv := newServer(t, nil)
	sv.eng.Test = g.test
	sv.commit("app", "c1", appSpec)
	done := sv.start("app", "c1", io.Discard)
	g.waitStarted(t)
	if err := sv.s.Cancel("app", 1); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	b := wait(t, done)
	if b.Status != baleen.StatusCancelled || b.FailedStage != baleen.StageTest {
		t.Errorf("got %s at %q, want cancelled at test", b.Status, b.FailedStage)
	}
	if err := sv.s.Cancel("app", 1); !errors.Is(err, baleen.ErrNotFound) {
		t.Errorf("Cancel of an ended build: got %v, want ErrNotFound", err)
	}
}

// depSpec depends on the project users of this server.
const depSpec = `
build:
  app: .
depends:
  users:
    src: users
test:
  command: ["./test.sh"]
`

func TestSchedulerCancelThroughDependencyBuild(t *testing.T) {
	g := newGate()
	sv := newServer(t, nil)
	sv.eng.Test = g.test
	sv.commit("users", "u1", appSpec)
	sv.commit("api", "a1", depSpec)
	done := sv.start("api", "a1", io.Discard)
	depID := g.waitStarted(t) // the test of the dependency build of users
	if !strings.HasPrefix(depID, "users-1-") {
		t.Fatalf("first test to start: got %s, want users' build", depID)
	}
	if err := sv.s.Cancel("api", 1); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	b := wait(t, done)
	if b.Status != baleen.StatusCancelled || b.FailedStage != baleen.StageDependencies {
		t.Errorf("api: got %s at %q (%s), want cancelled at dependencies", b.Status, b.FailedStage, b.Message)
	}
	users, err := sv.st.Build(t.Context(), "users", 1)
	if err != nil || users.Status != baleen.StatusCancelled {
		t.Errorf("dependency build: got %s, %v; want cancelled", users.Status, err)
	}
}

func TestSchedulerReusesGreenDependency(t *testing.T) {
	sv := newServer(t, nil)
	sv.commit("users", "u1", appSpec)
	sv.commit("api", "a1", depSpec)
	if b := sv.run("api", "a1", io.Discard); b.Status != baleen.StatusPassed || len(b.Dependencies) != 1 || b.Dependencies[0].Reused {
		t.Fatalf("first: got %s %+v, want passed with users built", b.Status, b.Dependencies)
	}
	var out syncBuffer
	b := sv.run("api", "a1", &out)
	if b.Status != baleen.StatusPassed || len(b.Dependencies) != 1 || !b.Dependencies[0].Reused || b.Dependencies[0].Build != 1 {
		t.Errorf("second: got %s %+v, want passed reusing users #1", b.Status, b.Dependencies)
	}
	if !strings.Contains(out.String(), "reusing build #1 of users") {
		t.Errorf("output lacks the reuse:\n%s", out.String())
	}
}

// Two pushes whose projects depend on each other, each holding its own project's queue, must not wait for
// each other forever: the wait that would close the cycle fails.
func TestSchedulerWaitForCycle(t *testing.T) {
	sv := newServer(t, nil)
	spec := func(dep string) string {
		return "build:\n  app: .\ndepends:\n  d:\n    src: " + dep + "\ntest:\n  command: [\"./test.sh\"]\n"
	}
	sv.commit("left", "l1", spec("right"))
	sv.commit("right", "r1", spec("left"))
	// Both pushes resolve their dependency only once both hold their queues.
	var barrier sync.WaitGroup
	barrier.Add(2)
	sv.repos.OnResolve = func() { barrier.Done(); barrier.Wait() }
	left, right := sv.start("left", "l1", io.Discard), sv.start("right", "r1", io.Discard)
	bl, br := wait(t, left), wait(t, right)
	sv.repos.OnResolve = nil
	cycles := 0
	for _, n := range []int{2, 3} {
		for _, p := range []string{"left", "right"} {
			if b, err := sv.st.Build(t.Context(), p, n); err == nil && strings.Contains(b.Message, "dependency cycle across builds") {
				cycles++
			}
		}
	}
	if cycles == 0 {
		t.Errorf("no dependency build failed on the cycle; left %s (%s), right %s (%s)", bl.Status, bl.Message, br.Status, br.Message)
	}
	if bl.Status == baleen.StatusPassed && br.Status == baleen.StatusPassed {
		t.Errorf("both builds passed; want the one whose wait closed the cycle to fail")
	}
}
