package pool_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/pipeline/docker"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
	"github.com/baleen-ci/baleen/pipeline/docker/pool"
	"github.com/baleen-ci/baleen/pipeline/enginetest"
	"github.com/baleen-ci/baleen/store"
)

// poolServer is a scheduler whose builds run on the two real engines of a pool.
type poolServer struct {
	t        testing.TB
	p        *pool.Pool
	st       *store.Store
	repos    *enginetest.Repos
	s        *pipeline.Scheduler
	instance string
	bb       string
}

func newPoolServer(t *testing.T) *poolServer { return newPoolServerWith(t, 2, 0) }

// newPoolServerWith is newPoolServer with secondSlots slots on the second engine and retries on another
// engine after an engine's failure.
func newPoolServerWith(t *testing.T, secondSlots, retries int) *poolServer {
	var sched *pipeline.Scheduler
	p := twoEngines(t, secondSlots, func(id baleen.BuildID) bool { return sched.Finished(id) })
	return newPoolServerOn(t, p, retries, &sched)
}

// newPoolServerOn is a scheduler whose builds run on the engines of p, made in *sched (which p's Finished
// may read), with retries on another engine.
func newPoolServerOn(t testing.TB, p *pool.Pool, retries int, sched **pipeline.Scheduler) *poolServer {
	sv := &poolServer{t: t, p: p, repos: enginetest.NewRepos(), instance: fmt.Sprintf("p%d", time.Now().UnixNano()%1e9)}
	for _, e := range p.Engines() {
		sv.bb = dockertest.BusyboxImageOn(t, e)
	}
	st, err := store.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sv.st = st
	*sched = pipeline.NewScheduler(pipeline.SchedulerConfig{
		Pipeline: pipeline.New(anyEngine(p), nil), Engines: p.Placer(), Teardowns: st,
		Projects: st, Builds: st, Repos: sv.repos, ArtifactsDir: t.TempDir(), Instance: sv.instance,
		EngineRetries: retries,
	})
	sv.s = *sched
	ctx, stop := context.WithCancel(context.Background())
	go p.Run(ctx)
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		sv.s.Shutdown(sctx)
		stop()
	})
	return sv
}

// anyEngine is one engine of p.
func anyEngine(p *pool.Pool) *docker.Engine {
	for _, e := range p.Engines() {
		return e
	}
	return nil
}

// commit stores commit c1 of project with baleen.yml spec, and arranges for its build's objects to be
// removed and checked on both engines when the test ends.
func (sv *poolServer) commit(project, spec string) baleen.BuildID {
	if err := sv.st.CreateProject(context.Background(), baleen.Project{Name: project, Created: time.Now().UTC()}); err != nil {
		sv.t.Fatal(err)
	}
	sv.repos.Commit(project, "main", "c1", map[string]string{"baleen.yml": spec, "Dockerfile": "FROM " + sv.bb + "\n"})
	id := (&baleen.Build{Project: project, Number: 1}).ID(sv.instance)
	for _, e := range sv.p.Engines() {
		dockertest.Cleanup(sv.t, e, id)
	}
	return id
}

func (sv *poolServer) start(project string, out *dockertest.Buffer) <-chan baleen.Build {
	ch := make(chan baleen.Build, 1)
	go func() {
		b, err := sv.s.Run(context.Background(), pipeline.Request{Project: project, Branch: "main", Commit: "c1", Pusher: "test", Out: out})
		if err != nil {
			b.Status, b.Message = baleen.StatusFailed, err.Error()
		}
		ch <- b
	}()
	return ch
}

func waitBuild(t testing.TB, ch <-chan baleen.Build, out *dockertest.Buffer) baleen.Build {
	t.Helper()
	select {
	case b := <-ch:
		return b
	case <-time.After(3 * time.Minute):
		t.Fatalf("a build did not end within three minutes; output:\n%s", out.String())
		return baleen.Build{}
	}
}

func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Four pushes spread over both engines; the second engine frozen mid-build fails its build for
// infrastructure, the next build goes to the first engine, and once the second answers again nothing of
// the failed build is left on it.
func TestSchedulerOnTwoEngines(t *testing.T) {
	// Not parallel: it freezes the second engine for everyone.
	sv := newPoolServer(t)
	const quick = "build: {pool-app: .}\ntest: {command: [sh, -c, 'echo tests-running; sleep 2']}\n"
	var chans []<-chan baleen.Build
	var outs []*dockertest.Buffer
	for i := range 4 {
		sv.commit(fmt.Sprintf("spread%d", i), quick)
		out := &dockertest.Buffer{}
		outs = append(outs, out)
		chans = append(chans, sv.start(fmt.Sprintf("spread%d", i), out))
	}
	used := map[string]int{}
	for i, ch := range chans {
		b := waitBuild(t, ch, outs[i])
		if b.Status != baleen.StatusPassed {
			t.Errorf("%s: %s (%s); output:\n%s", b.Project, b.Status, b.Message, outs[i].String())
		}
		for _, name := range []string{"first", "second"} {
			if strings.Contains(outs[i].String(), "engine "+name+"\n") {
				used[name]++
			}
		}
	}
	if used["first"] == 0 || used["second"] == 0 || used["first"]+used["second"] != 4 {
		t.Errorf("builds per engine: %v, want four spread over both", used)
	}

	id := sv.commit("frozen", "runs_on: [big]\nbuild: {pool-app: .}\ntest: {command: [sh, -c, 'echo tests-running; sleep 300']}\n")
	pid := dockertest.SecondEnginePID(t)
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) }) // before the Cleanups of commit: they need it
	out := &dockertest.Buffer{}
	ch := sv.start("frozen", out)
	pollUntil(t, "the tests on the second engine", func() bool { return strings.Contains(out.String(), "tests-running") })
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP dockerd: %v", err)
	}
	b := waitBuild(t, ch, out)
	if b.FailedStage != baleen.StageTest || !baleen.Infrastructure(b.Status, b.Message) || !strings.Contains(b.Message, "engine second") {
		t.Errorf("frozen engine: build ended %s at %q: %q, want an infrastructure failure of engine second at test", b.Status, b.FailedStage, b.Message)
	}
	pollUntil(t, "the pool to take the second engine as down", func() bool {
		st := sv.p.Status()
		i := slices.IndexFunc(st, func(s pool.EngineStatus) bool { return s.Name == "second" })
		return st[i].State == pool.StateDown
	})
	sv.commit("after", quick)
	aout := &dockertest.Buffer{}
	if a := waitBuild(t, sv.start("after", aout), aout); a.Status != baleen.StatusPassed || !strings.Contains(aout.String(), "engine first\n") {
		t.Errorf("the build after the fault: %s (%s), want passed on engine first; output:\n%s", a.Status, a.Message, aout.String())
	}

	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatalf("SIGCONT dockerd: %v", err)
	}
	pollUntil(t, "the frozen build's teardown to be done", func() bool {
		if sv.s.RetryTeardowns(context.Background()) != nil {
			return false
		}
		pending, err := sv.st.PendingTeardowns(context.Background())
		return err == nil && len(pending) == 0
	})
	left, err := sv.p.Engines()["second"].LeftoverBuilds(context.Background())
	if err != nil {
		t.Fatalf("LeftoverBuilds: %v", err)
	}
	if slices.Contains(left, id) {
		t.Errorf("objects of build %s left on the second engine", id)
	}
}

// The second engine killed during a build's tests, with one retry on another engine configured: the same
// push goes on on the first engine and passes, saying so; once the second engine is started again, the
// teardown of the failed attempt is done there and nothing of it is left.
func TestRetryOnFirstEngineWhenSecondDies(t *testing.T) {
	// Not parallel: it kills the second engine for everyone.
	sv := newPoolServerWith(t, 3, 1) // the second engine has the most free slots: the build goes there first
	id := sv.commit("retried", "build: {pool-app: .}\ntest: {command: [sh, -c, 'echo tests-running; sleep 15']}\n")
	retry := baleen.BuildID(strings.Replace(string(id), "-1-", "-1-r1-", 1))
	dockertest.Cleanup(t, sv.p.Engines()["first"], retry)
	t.Cleanup(func() { dockertest.SecondEngineScript(t, "start") }) // before the Cleanups of commit: they need it
	out := &dockertest.Buffer{}
	ch := sv.start("retried", out)
	pollUntil(t, "the tests on the second engine", func() bool { return strings.Contains(out.String(), "tests-running") })
	if !strings.Contains(out.String(), "engine second\n") {
		t.Fatalf("the build did not start on the second engine; output:\n%s", out.String())
	}
	dockertest.SecondEngineScript(t, "kill")
	b := waitBuild(t, ch, out)
	if b.Status != baleen.StatusPassed {
		t.Fatalf("retried build: %s at %q (%s), want passed on the first engine; output:\n%s", b.Status, b.FailedStage, b.Message, out.String())
	}
	text := out.String()
	retried := strings.Index(text, "retrying on another engine (1 of 1): engine second failed the build: infrastructure: ")
	if retried < 0 || !strings.Contains(text[retried:], "engine second stopped answering") || !strings.Contains(text[retried:], "engine first\n") {
		t.Errorf("the output does not say the build was retried on the first engine:\n%s", text)
	}

	dockertest.SecondEngineScript(t, "start")
	pollUntil(t, "the failed attempt's teardown to be done", func() bool {
		if sv.s.RetryTeardowns(context.Background()) != nil {
			return false
		}
		pending, err := sv.st.PendingTeardowns(context.Background())
		return err == nil && len(pending) == 0
	})
	for name, want := range map[string]baleen.BuildID{"second": id, "first": retry} {
		left, err := sv.p.Engines()[name].LeftoverBuilds(context.Background())
		if err != nil {
			t.Fatalf("LeftoverBuilds on %s: %v", name, err)
		}
		if slices.Contains(left, want) {
			t.Errorf("objects of %s left on the %s engine", want, name)
		}
	}
}
