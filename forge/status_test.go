package forge_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/events"
	"github.com/baleen-ci/baleen/forge"
	"github.com/baleen-ci/baleen/notify"
	"github.com/baleen-ci/baleen/store"
)

type statusCall struct {
	method, path string
	header       http.Header
	body         map[string]string
}

// forgeAPI is a loopback stand-in for a forge's status endpoint that records each call and answers 503 to
// the first `down` ones.
type forgeAPI struct {
	*httptest.Server
	mu    sync.Mutex
	down  int
	calls []statusCall
}

func newForgeAPI(t *testing.T, down int) *forgeAPI {
	a := &forgeAPI{down: down}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.down > 0 {
			a.down--
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		var body map[string]string
		if err := json.Unmarshal(b, &body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		a.calls = append(a.calls, statusCall{r.Method, r.URL.EscapedPath(), r.Header.Clone(), body})
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":1}`)
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *forgeAPI) got() []statusCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]statusCall(nil), a.calls...)
}

func (a *forgeAPI) up() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.down = 0
}

// runStatuses runs s on bus, its statuses queued and sent by a notifier over st that retries after
// firstRetry, until the returned stop is called (or the test ends).
func runStatuses(t *testing.T, s *forge.Statuses, st *store.Store, bus *events.Bus, firstRetry time.Duration) (stop func()) {
	t.Helper()
	n, err := notify.New(notify.Options{Deliveries: st, History: st, FirstRetry: firstRetry,
		Senders: map[string]notify.Sender{forge.StatusSink: s}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch, nch := bus.Subscribe(ctx, forge.StatusFilter), bus.Subscribe(ctx, notify.Filter)
	var wg sync.WaitGroup
	wg.Go(func() { s.Run(ctx, ch, n) })
	wg.Go(func() { _ = n.Run(ctx, nch) })
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

func statusStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// statusFollower follows shop-api with status reports of kind to api, with the token in a file.
func statusFollower(t *testing.T, kind, repo, api string) *forge.Follower {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("ghp_token\n"), 0o600)
	m := forge.Mirror{URL: "https://forge.example.com/" + repo + ".git", Status: &forge.StatusConfig{Kind: kind, TokenFile: tokenFile, API: api}}
	if err := m.Validate("shop-api"); err != nil {
		t.Fatal(err)
	}
	f, err := forge.NewFollower(map[string]forge.Mirror{"shop-api": m}, filepath.Join(t.TempDir(), "m.json"), nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func buildLink(p string, n int) string { return "https://ci.example.com/" + p + "/builds/" + itoa(n) }

const statusCommit = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"

// Each forge's status API gets pending at the start and the verdict at the end, in that order, at the
// documented path with the documented auth header and body.
func TestCommitStatusPerForge(t *testing.T) {
	const commit = statusCommit
	cases := []struct {
		kind, repo, wantPath string
		authKey, authValue   string
		stateKey             string
		final                baleen.Status
		wantStates           [2]string
		extra                map[string]string
	}{
		{"github", "acme/shop-api", "/repos/acme/shop-api/statuses/" + commit, "Authorization", "Bearer ghp_token", "context",
			baleen.StatusPassed, [2]string{"pending", "success"},
			map[string]string{"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}},
		{"gitlab", "mike/diaspora", "/projects/mike%2Fdiaspora/statuses/" + commit, "PRIVATE-TOKEN", "ghp_token", "name",
			baleen.StatusFailed, [2]string{"pending", "failed"}, nil},
		{"gitea", "gitea/webhooks", "/repos/gitea/webhooks/statuses/" + commit, "Authorization", "token ghp_token", "context",
			baleen.StatusFailed, [2]string{"pending", "failure"}, nil},
		{"forgejo", "acme/shop-api", "/repos/acme/shop-api/statuses/" + commit, "Authorization", "token ghp_token", "context",
			baleen.StatusCancelled, [2]string{"pending", "error"}, nil},
	}
	for _, c := range cases {
		t.Run(c.kind, func(t *testing.T) {
			api := newForgeAPI(t, 0)
			f := statusFollower(t, c.kind, c.repo, api.URL)
			bus := events.New(0)
			runStatuses(t, forge.NewStatuses(f, nil, buildLink, nil), statusStore(t, t.TempDir()), bus, 10*time.Millisecond)

			b := baleen.Build{Project: "shop-api", Number: 7, Commit: commit, Branch: "main", Status: baleen.StatusRunning}
			bus.Publish(baleen.Event{Kind: baleen.EventBuildStarted, Project: b.Project, Build: 7, Record: &b})
			waitFor(t, "the pending status", func() bool { return len(api.got()) == 1 })
			fin := b
			fin.Status = c.final
			bus.Publish(baleen.Event{Kind: baleen.EventBuildFinished, Project: b.Project, Build: 7, Record: &fin})
			waitFor(t, "both statuses", func() bool { return len(api.got()) == 2 })
			for i, call := range api.got() {
				if call.method != http.MethodPost || call.path != c.wantPath {
					t.Errorf("call %d: got %s %s, want POST %s", i, call.method, call.path, c.wantPath)
				}
				if got := call.header.Get(c.authKey); got != c.authValue {
					t.Errorf("call %d: %s: got %q, want %q", i, c.authKey, got, c.authValue)
				}
				for k, v := range c.extra {
					if call.header.Get(k) != v {
						t.Errorf("call %d: %s: got %q, want %q", i, k, call.header.Get(k), v)
					}
				}
				if call.body["state"] != c.wantStates[i] || call.body[c.stateKey] != "baleen" ||
					call.body["target_url"] != "https://ci.example.com/shop-api/builds/7" || call.body["description"] == "" {
					t.Errorf("call %d: body %v, want state %s, %s baleen and the build's link", i, call.body, c.wantStates[i], c.stateKey)
				}
			}
		})
	}
}

// A status the forge refuses while it is down stays queued in the store: after a restart (the store
// reopened, a new notifier and reporter) it is sent once the forge is back, and recorded as delivered. The
// build's pending status, not sent yet, is replaced by its verdict rather than sent after it.
func TestCommitStatusSurvivesRestart(t *testing.T) {
	api := newForgeAPI(t, 1<<30) // down until up()
	f := statusFollower(t, "github", "acme/shop-api", api.URL)
	dir := t.TempDir()
	st := statusStore(t, dir)
	bus := events.New(0)
	stop := runStatuses(t, forge.NewStatuses(f, nil, buildLink, nil), st, bus, 20*time.Millisecond)

	b := baleen.Build{Project: "shop-api", Number: 3, Commit: statusCommit, Branch: "main", Status: baleen.StatusRunning}
	bus.Publish(baleen.Event{Kind: baleen.EventBuildStarted, Project: b.Project, Build: 3, Record: &b})
	fin := b
	fin.Status = baleen.StatusPassed
	bus.Publish(baleen.Event{Kind: baleen.EventBuildFinished, Project: b.Project, Build: 3, Record: &fin})
	statuses := func(st *store.Store) []baleen.Delivery {
		ds, err := st.Deliveries(context.Background(), baleen.DeliveryFilter{Sink: forge.StatusSink})
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	waitFor(t, "a failed attempt at the verdict", func() bool {
		ds := statuses(st)
		return len(ds) == 2 && ds[0].Event == "success" && ds[0].Attempts >= 1 && ds[0].Status == baleen.DeliveryPending
	})
	stop()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	api.up()
	st = statusStore(t, dir)
	runStatuses(t, forge.NewStatuses(f, nil, buildLink, nil), st, events.New(0), 20*time.Millisecond)
	waitFor(t, "the verdict after the restart", func() bool {
		ds := statuses(st)
		return len(ds) == 2 && ds[0].Status == baleen.DeliveryDelivered
	})
	ds := statuses(st)
	if d := ds[0]; d.Code != http.StatusCreated || d.Attempts < 2 || d.Error != "" {
		t.Errorf("verdict: got code %d, %d attempts, error %q; want 201 after at least 2 attempts", d.Code, d.Attempts, d.Error)
	}
	if d := ds[1]; d.Event != "pending" || d.Status != baleen.DeliveryCoalesced || d.Digest != ds[0].ID {
		t.Errorf("pending status: got %s %s (in %d), want pending coalesced into %d", d.Event, d.Status, d.Digest, ds[0].ID)
	}
	calls := api.got()
	if len(calls) != 1 || calls[0].body["state"] != "success" || calls[0].path != "/repos/acme/shop-api/statuses/"+statusCommit {
		t.Errorf("the forge got %+v, want one success status for the commit", calls)
	}
}

// A project that follows nothing, or reports no status, gets no call.
func TestNoStatusWithoutConfig(t *testing.T) {
	api := newForgeAPI(t, 0)
	f, err := forge.NewFollower(map[string]forge.Mirror{"shop-api": {URL: api.URL + "/a/b.git"}}, filepath.Join(t.TempDir(), "m.json"), nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := forge.NewStatuses(f, nil, nil, nil)
	st := statusStore(t, t.TempDir())
	n, err := notify.New(notify.Options{Deliveries: st, History: st, Senders: map[string]notify.Sender{forge.StatusSink: s}})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan baleen.Event, 2)
	b := baleen.Build{Project: "shop-api", Number: 1, Commit: "abc", Status: baleen.StatusPassed}
	o := baleen.Build{Project: "other", Number: 1, Commit: "abc", Status: baleen.StatusPassed}
	ch <- baleen.Event{Kind: baleen.EventBuildFinished, Project: "shop-api", Record: &b}
	ch <- baleen.Event{Kind: baleen.EventBuildFinished, Project: "other", Record: &o}
	close(ch)
	s.Run(context.Background(), ch, n) // returns when ch closes
	if ds, err := st.Deliveries(context.Background(), baleen.DeliveryFilter{}); len(ds) != 0 || err != nil {
		t.Errorf("got %d statuses queued (err %v), want 0", len(ds), err)
	}
	if n := len(api.got()); n != 0 {
		t.Errorf("got %d calls, want 0", n)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
