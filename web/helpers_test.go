package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/events"
	"github.com/baleen-ci/baleen/store"
)

// roles is a table-backed Authorizer: user -> project ("*" for all) -> role.
type roles map[string]map[string]baleen.Role

func (r roles) Role(_ context.Context, id baleen.Identity, project string) baleen.Role {
	if p, ok := r[id.User][project]; ok {
		return p
	}
	return r[id.User]["*"]
}

// recorder is the Actions boundary in handler tests: it records what the server asked for.
type recorder struct {
	mu    sync.Mutex
	calls []string
	// identities are who each rebuild acts for, in order.
	identities []baleen.Identity
}

func (a *recorder) record(s string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, s)
}

func (a *recorder) Calls() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.calls...)
}

func (a *recorder) Rebuild(_ context.Context, p string, n int, by string, id baleen.Identity) (int, error) {
	a.record(fmt.Sprintf("rebuild %s %d %s", p, n, by))
	a.mu.Lock()
	defer a.mu.Unlock()
	a.identities = append(a.identities, id)
	return 0, nil
}
func (a *recorder) Cancel(_ context.Context, p string, n int) error {
	a.record(fmt.Sprintf("cancel %s %d", p, n))
	return nil
}
func (a *recorder) Deploy(_ context.Context, p string, n int, by string) error {
	a.record(fmt.Sprintf("deploy %s %d %s", p, n, by))
	return nil
}
func (a *recorder) Rollback(_ context.Context, p string, n int, by string) error {
	a.record(fmt.Sprintf("rollback %s %d %s", p, n, by))
	return nil
}

// fixture is a Server over a real badger store and a real event bus, served by httptest.
type fixture struct {
	t       testing.TB
	st      *store.Store
	bus     *events.Bus
	srv     *Server
	ts      *httptest.Server
	actions *recorder
	arts    string
}

var testRoles = roles{
	"ann":  {"*": baleen.RoleAdmin},
	"rita": {"*": baleen.RoleRead},
	"wes":  {"*": baleen.RoleWrite},
}

func newFixture(t testing.TB, mod func(*Config)) *fixture {
	t.Helper()
	st, err := store.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, st: st, bus: events.New(0), actions: &recorder{}, arts: t.TempDir()}
	cfg := Config{Projects: st, Builds: st, Releases: st, Tests: st, Events: f.bus, Actions: f.actions, Authorizer: testRoles,
		Tokens: st, Sessions: st, ArtifactsDir: f.arts, StoreSize: st.Size}
	if mod != nil {
		mod(&cfg)
	}
	f.srv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.ts = httptest.NewServer(f.srv)
	t.Cleanup(func() {
		f.ts.CloseClientConnections() // a browser still following a live log
		f.ts.Close()
		f.srv.Close()
		f.bus.Close()
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	return f
}

// build records a build of project with status and optional report, and writes log as its output.
func (f *fixture) build(project, branch string, status baleen.Status, report *baleen.TestReport, log string) baleen.Build {
	f.t.Helper()
	ctx := context.Background()
	if err := f.st.CreateProject(ctx, baleen.Project{Name: project}); err != nil && !strings.Contains(err.Error(), "exists") {
		f.t.Fatal(err)
	}
	b, err := f.st.CreateBuild(ctx, baleen.Build{Project: project, Branch: branch, Commit: strings.Repeat("ab", 20), Pusher: "SHA256:pusher", Status: baleen.StatusQueued, Created: time.Now().UTC()})
	if err != nil {
		f.t.Fatal(err)
	}
	if log != "" {
		w, err := f.st.LogWriter(ctx, project, b.Number)
		if err != nil {
			f.t.Fatal(err)
		}
		io.WriteString(w, log)
		if err := w.Close(); err != nil {
			f.t.Fatal(err)
		}
	}
	start := time.Now().UTC().Add(-90 * time.Second)
	p := baleen.BuildPatch{Status: &status, Started: &start, Report: report}
	if status.Final() {
		end := start.Add(75 * time.Second)
		p.Finished = &end
		p.Stages = []baleen.StageResult{{Stage: baleen.StageBuild, Status: baleen.StatusPassed, Duration: 10 * time.Second}, {Stage: baleen.StageTest, Status: status, Duration: 60 * time.Second}}
	}
	b, err = f.st.UpdateBuild(ctx, project, b.Number, p)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

// client is a browser-like client with a cookie jar, signed in as user when user is not empty.
func (f *fixture) client(user string) *http.Client {
	f.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if user == "" {
		return c
	}
	link, err := f.srv.LoginURL(f.t.Context(), baleen.Identity{User: user, Fingerprint: "SHA256:" + user}, f.ts.URL)
	if err != nil {
		f.t.Fatal(err)
	}
	if resp, _ := redeem(f.t, c, link); resp.StatusCode != http.StatusSeeOther {
		f.t.Fatalf("sign-in link: got %s, want 303", resp.Status)
	}
	return c
}

// redeem signs c in with a sign-in link as its page's button does: a POST to the link.
func redeem(t testing.TB, c *http.Client, link string, hdr ...string) (*http.Response, string) {
	t.Helper()
	return send(t, c, "POST", link, hdr...)
}

func get(t testing.TB, c *http.Client, u string, hdr ...string) (*http.Response, string) {
	t.Helper()
	return send(t, c, "GET", u, hdr...)
}

// send makes a request without a body, with headers in name, value pairs, and reads the answer.
func send(t testing.TB, c *http.Client, method, u string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func post(t testing.TB, c *http.Client, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// csrfOf reads the CSRF token from a page's form.
func csrfOf(t testing.TB, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the page:\n%s", page)
	}
	return m[1]
}
