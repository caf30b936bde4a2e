package forge_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/events"
	"github.com/baleen-ci/baleen/forge"
	"github.com/baleen-ci/baleen/gitd"
	"github.com/baleen-ci/baleen/notify"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
	"github.com/baleen-ci/baleen/store"
)

// schedBuilder builds through the real scheduler, making the project on its first build as a push does.
// The scheduler does not publish build events yet, so it publishes the finished record the scheduler
// returns; the notifier and the status reporter read it from the real bus.
type schedBuilder struct {
	sched *pipeline.Scheduler
	st    *store.Store
	bus   *events.Bus
}

func (b schedBuilder) Build(ctx context.Context, project, branch, commit string) error {
	if err := b.st.CreateProject(ctx, baleen.Project{Name: project}); err != nil && !errors.Is(err, baleen.ErrExists) {
		return err
	}
	rec, err := b.sched.Run(ctx, pipeline.Request{Project: project, Branch: branch, Commit: commit, Pusher: forge.Pusher})
	if err != nil {
		return err
	}
	b.bus.Publish(baleen.Event{Kind: baleen.EventBuildFinished, Project: project, Build: rec.Number, Status: rec.Status, Record: &rec})
	return nil
}

// End to end: a followed bare repository on disk gets a commit, its forge's webhook fires, the real
// scheduler builds it on the real Docker engine, and the forge gets its commit status and the team's
// webhook its notification; then a red commit does the same with failure.
func TestFollowedRepositoryEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Docker")
	}
	eng := dockertest.Engine(t)
	bb := dockertest.BusyboxImage(t)
	b := make([]byte, 4)
	rand.Read(b)
	instance := hex.EncodeToString(b)
	for n := 1; n <= 2; n++ {
		dockertest.Cleanup(t, eng, (&baleen.Build{Project: "shop-api", Number: n}).ID(instance))
	}

	data := t.TempDir()
	st, err := store.Open(filepath.Join(data, "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	base, err := gitd.NewRepositories(filepath.Join(data, "repos"))
	if err != nil {
		t.Fatal(err)
	}
	repos := base.WithFetch(gitd.FetchConfig{})
	sched := pipeline.NewScheduler(pipeline.SchedulerConfig{
		Pipeline: pipeline.New(eng, nil), Projects: st, Builds: st, Repos: repos, KeepGreen: -1,
		ArtifactsDir: filepath.Join(data, "artifacts"), Instance: instance, Concurrency: 1,
	})
	bus := events.New(0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The forge: a bare repository on disk, and its status API on loopback.
	bare := filepath.Join(t.TempDir(), "shop-api.git")
	git(t, "", "init", "-q", "--bare", "-b", "main", bare)
	work := t.TempDir()
	git(t, work, "init", "-q", "-b", "main")
	write := func(files map[string]string) string {
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(work, name), []byte(body), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		git(t, work, "add", ".")
		git(t, work, "commit", "-q", "-m", "change")
		git(t, work, "push", "-q", bare, "main")
		return git(t, work, "rev-parse", "HEAD")
	}
	api := newForgeAPI(t, 0)
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte(hookSecret), 0o600)
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("gitea-token"), 0o600)
	m := forge.Mirror{URL: bare, Branches: []string{"main"}, WebhookSecretFile: secretFile,
		Status: &forge.StatusConfig{Kind: "gitea", TokenFile: tokenFile, API: api.URL, Repo: "acme/shop-api"}}
	if err := m.Validate("shop-api"); err != nil {
		t.Fatal(err)
	}
	f, err := forge.NewFollower(map[string]forge.Mirror{"shop-api": m}, filepath.Join(data, "mirrors.json"),
		fetcher{repos}, schedBuilder{sched: sched, st: st, bus: bus}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	link := func(p string, n int) string { return "https://ci.example.com/" + p + "/builds/" + itoa(n) }
	statuses := forge.NewStatuses(f, nil, link, nil)

	// The team's notification webhook.
	team := newNotifyReceiver(t)
	sinkSecret := filepath.Join(t.TempDir(), "sink")
	os.WriteFile(sinkSecret, []byte("sink-secret"), 0o600)
	sinks := []notify.Sink{{Name: "team", Events: []string{"passed", "failed"}, Webhook: &notify.WebhookConfig{URL: team.URL, SecretFile: sinkSecret}}}
	if err := notify.ValidateConfig(sinks); err != nil {
		t.Fatal(err)
	}
	n, err := notify.New(notify.Options{Sinks: sinks, Deliveries: st, History: st, Window: time.Millisecond,
		Senders: map[string]notify.Sender{forge.StatusSink: statuses}})
	if err != nil {
		t.Fatal(err)
	}
	notifyEvents, statusEvents := bus.Subscribe(ctx, notify.Filter), bus.Subscribe(ctx, forge.StatusFilter)
	go statuses.Run(ctx, statusEvents, n)
	done := make(chan struct{})
	go func() { defer close(done); n.Run(ctx, notifyEvents) }()
	defer func() { cancel(); <-done; sched.Shutdown(context.Background()) }()

	hooks := httptest.NewServer(forge.NewHandler(f, st, nil))
	defer hooks.Close()
	payload, _ := os.ReadFile("testdata/gitea-push.json")

	steps := []struct {
		exit, state, verdict string
	}{{"0", "success", "passed"}, {"1", "failure", "failed"}}
	for i, s := range steps {
		commit := write(map[string]string{
			"Dockerfile": "FROM " + bb + "\nWORKDIR /app\nCOPY . /app\n",
			"test.sh":    "#!/bin/sh\necho testing\nexit " + s.exit + "\n",
			"baleen.yml": "build: {fe2e-app: .}\ntest:\n  command: [\"/app/test.sh\"]\n",
		})
		if code := post(t, hooks.URL+"/hooks/shop-api", signed("gitea", hookSecret, "e2e-"+itoa(i), payload), payload); code != http.StatusAccepted {
			t.Fatalf("webhook: got %d, want 202", code)
		}
		waitForLong(t, "the status "+s.state, func() bool { return len(api.got()) == i+1 })
		call := api.got()[i]
		if call.path != "/repos/acme/shop-api/statuses/"+commit || call.body["state"] != s.state ||
			call.body["target_url"] != link("shop-api", i+1) {
			t.Errorf("status %d: got %s %v, want %s of %s", i, call.path, call.body, s.state, commit)
		}
		waitForLong(t, "the notification "+s.verdict, func() bool { return team.count() == i+1 })
		msg := team.message(i)
		if msg.Event != s.verdict || msg.Commit != commit || msg.Build != i+1 || msg.Pusher != forge.Pusher {
			t.Errorf("notification %d: got %s of #%d at %s by %s, want %s of #%d at %s by mirror", i, msg.Event, msg.Build, msg.Commit, msg.Pusher, s.verdict, i+1, commit)
		}
	}
	bs, err := st.Builds(ctx, baleen.BuildFilter{Project: "shop-api"})
	if err != nil || len(bs) != 2 || bs[0].Status != baleen.StatusFailed || bs[1].Status != baleen.StatusPassed {
		t.Errorf("builds: got %+v (err %v), want #2 failed and #1 passed", bs, err)
	}
	log, err := st.Log(ctx, "shop-api", 1, 0)
	if err == nil {
		b, _ := io.ReadAll(log)
		log.Close()
		if !strings.Contains(string(b), "testing") {
			t.Errorf("build #1's log lacks the test's output:\n%s", b)
		}
	}
}

func waitForLong(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
