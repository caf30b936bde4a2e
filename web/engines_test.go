package web

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/api"
)

// engineBoard is the engines a test's server reports; the test changes them between requests.
type engineBoard struct {
	mu      sync.Mutex
	engines []api.Engine
}

func (b *engineBoard) set(es ...api.Engine) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.engines = es
}

func (b *engineBoard) states() []api.Engine {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]api.Engine(nil), b.engines...)
}

func engineFixture(t *testing.T) (*fixture, *engineBoard) {
	t.Helper()
	f := newFixture(t, func(c *Config) {
		c.Authorizer = roles{"ann": {"*": baleen.RoleAdmin}, "pat": {"api": baleen.RoleRead}}
	})
	for _, p := range []string{"api", "shop-api"} {
		if err := f.st.CreateProject(context.Background(), baleen.Project{Name: p}); err != nil {
			t.Fatal(err)
		}
	}
	board := &engineBoard{}
	if err := f.srv.ShowEngines(board.states); err != nil {
		t.Fatal(err)
	}
	return f, board
}

// The engines page shows each engine's state, slots, labels and builds, linking the builds the caller may
// read and only counting the others; it is for signed-in callers alone.
func TestEnginesPage(t *testing.T) {
	f, board := engineFixture(t)
	since := time.Now().Add(-time.Minute)
	board.set(
		api.Engine{Name: "build-2", Host: "ssh://builder@10.0.0.21", State: "down", Reason: "engine build-2 stopped answering: no answer within 30s",
			Labels: []string{"amd64", "big"}, Slots: 4, Since: since},
		api.Engine{Name: "local", Host: "unix:///var/run/docker.sock", State: "up", Slots: 2, InUse: 2,
			Builds: []string{"api-3-abcd0123", "shop-api-7-r1-abcd0123"}, Since: since},
	)
	resp, body := get(t, f.client("ann"), f.ts.URL+"/engines")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /engines as ann: %s\n%s", resp.Status, body)
	}
	for _, want := range []string{"build-2", "ssh://builder@10.0.0.21", "engine build-2 stopped answering", "<code>big</code>",
		"0/4", "2/2", `href="/p/api/b/3"`, `href="/p/shop-api/b/7"`, "(retry r1)"} {
		if !strings.Contains(body, want) {
			t.Errorf("engines page as ann lacks %q:\n%s", want, body)
		}
	}
	_, body = get(t, f.client("pat"), f.ts.URL+"/engines")
	if !strings.Contains(body, `href="/p/api/b/3"`) || strings.Contains(body, "shop-api") || !strings.Contains(body, "1 other build(s)") {
		t.Errorf("engines page as pat (reads api alone): want api's build linked and shop-api's only counted:\n%s", body)
	}
	if resp, body := get(t, f.client(""), f.ts.URL+"/engines"); resp.StatusCode != http.StatusForbidden || strings.Contains(body, "build-2") {
		t.Errorf("GET /engines signed out: %s, want 403 without the engines:\n%s", resp.Status, body)
	}
}

// /metrics has each engine's state and slots, as they are at the scrape.
func TestEngineMetrics(t *testing.T) {
	f, board := engineFixture(t)
	board.set(api.Engine{Name: "build-2", State: "down", Slots: 4}, api.Engine{Name: "local", State: "up", Slots: 2, InUse: 1})
	_, body := get(t, f.client(""), f.ts.URL+"/metrics")
	for _, want := range []string{`baleen_engine_up{engine="build-2"} 0`, `baleen_engine_up{engine="local"} 1`,
		`baleen_engine_slots{engine="build-2"} 4`, `baleen_engine_slots_in_use{engine="local"} 1`, `baleen_engine_slots_in_use{engine="build-2"} 0`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	board.set(api.Engine{Name: "build-2", State: "up", Slots: 4, InUse: 3}, api.Engine{Name: "local", State: "up", Slots: 2})
	_, body = get(t, f.client(""), f.ts.URL+"/metrics")
	for _, want := range []string{`baleen_engine_up{engine="build-2"} 1`, `baleen_engine_slots_in_use{engine="build-2"} 3`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics after the change lack %q", want)
		}
	}
	if err := f.srv.ShowEngines(board.states); err == nil {
		t.Errorf("ShowEngines a second time: no error, want one")
	}
}
