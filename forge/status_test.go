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

// Each forge's status API gets pending at the start and the verdict at the end, in that order, at the
// documented path with the documented auth header and body, even when it is down at first.
func TestCommitStatusPerForge(t *testing.T) {
	const commit = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
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
			api := newForgeAPI(t, 2)
			tokenFile := filepath.Join(t.TempDir(), "token")
			os.WriteFile(tokenFile, []byte("ghp_token\n"), 0o600)
			m := forge.Mirror{URL: "https://forge.example.com/" + c.repo + ".git", Status: &forge.StatusConfig{Kind: c.kind, TokenFile: tokenFile, API: api.URL}}
			if err := m.Validate("shop-api"); err != nil {
				t.Fatal(err)
			}
			f, err := forge.NewFollower(map[string]forge.Mirror{"shop-api": m}, filepath.Join(t.TempDir(), "m.json"), nil, nil, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			link := func(p string, n int) string { return "https://ci.example.com/" + p + "/builds/" + itoa(n) }
			s := forge.NewStatuses(f, nil, link, nil)
			s.FirstRetry = 10 * time.Millisecond
			bus := events.New(0)
			ctx, cancel := context.WithCancel(context.Background())
			ch := bus.Subscribe(ctx, forge.StatusFilter)
			done := make(chan struct{})
			go func() { defer close(done); s.Run(ctx, ch) }()
			t.Cleanup(func() { cancel(); <-done })

			b := baleen.Build{Project: "shop-api", Number: 7, Commit: commit, Branch: "main", Status: baleen.StatusRunning}
			bus.Publish(baleen.Event{Kind: baleen.EventBuildStarted, Project: b.Project, Build: 7, Record: &b})
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

// A project that follows nothing, or reports no status, gets no call.
func TestNoStatusWithoutConfig(t *testing.T) {
	api := newForgeAPI(t, 0)
	f, err := forge.NewFollower(map[string]forge.Mirror{"shop-api": {URL: api.URL + "/a/b.git"}}, filepath.Join(t.TempDir(), "m.json"), nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := forge.NewStatuses(f, nil, nil, nil)
	ch := make(chan baleen.Event, 2)
	b := baleen.Build{Project: "shop-api", Number: 1, Commit: "abc", Status: baleen.StatusPassed}
	o := baleen.Build{Project: "other", Number: 1, Commit: "abc", Status: baleen.StatusPassed}
	ch <- baleen.Event{Kind: baleen.EventBuildFinished, Project: "shop-api", Record: &b}
	ch <- baleen.Event{Kind: baleen.EventBuildFinished, Project: "other", Record: &o}
	close(ch)
	s.Run(context.Background(), ch) // returns when ch closes, after its sends
	if n := len(api.got()); n != 0 {
		t.Errorf("got %d calls, want 0", n)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
