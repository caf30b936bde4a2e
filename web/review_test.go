package web

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
)

// TestMetricsHidePrivateProjects stops /metrics from naming a project to a caller who may not read it:
// anonymous scrapes see the server-wide series and public projects', a token sees what its key may read.
func TestMetricsHidePrivateProjects(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.PublicProjects = []string{"open"} })
	f.build("secret", "main", baleen.StatusPassed, nil, "")
	f.build("open", "main", baleen.StatusPassed, nil, "")
	tok, _, err := CreateToken(t.Context(), f.st, baleen.Identity{User: "rita", Fingerprint: "SHA256:rita"}, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"secret", "open"} {
		f.bus.Publish(baleen.Event{Kind: baleen.EventBuildFinished, Project: p, Build: 1, Status: baleen.StatusPassed, Duration: time.Second})
	}
	f.srv.Metrics().Push("secret", 10)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := get(t, f.client(""), f.ts.URL+"/metrics", "Authorization", "Bearer "+tok)
		if strings.Contains(body, `baleen_builds_total{project="secret"`) && strings.Contains(body, `baleen_builds_total{project="open"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a reader of every project does not see both projects' metrics:\n%s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, body := get(t, f.client(""), f.ts.URL+"/metrics")
	if resp.StatusCode != 200 {
		t.Fatalf("anonymous scrape: got %s", resp.Status)
	}
	if strings.Contains(body, "secret") {
		t.Errorf("an anonymous scrape names the private project:\n%s", body)
	}
	for _, w := range []string{`baleen_builds_total{project="open",result="passed"} 1`, "baleen_builds_running 0", "baleen_git_bytes_total"} {
		if !strings.Contains(body, w) {
			t.Errorf("an anonymous scrape lacks %q:\n%s", w, body)
		}
	}
	if resp, _ := get(t, f.client(""), f.ts.URL+"/metrics", "Authorization", "Bearer bln_nope"); resp.StatusCode != 401 {
		t.Errorf("a scrape with a bad token: got %s, want 401", resp.Status)
	}
}

// TestServerTimesOutSlowAndIdleClients stops a client from holding a connection by sending a body slowly
// or by keeping an idle connection open, while a live log stream outlasts both timeouts.
func TestServerTimesOutSlowAndIdleClients(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.PublicProjects = []string{"api"} })
	f.build("api", "main", baleen.StatusRunning, nil, "")
	w, err := f.st.LogWriter(t.Context(), "api", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	io.WriteString(w, "step 1\n")
	if hs := f.srv.http; hs.ReadTimeout <= 0 || hs.IdleTimeout <= 0 || hs.WriteTimeout != 0 {
		t.Fatalf("server timeouts: read %s, idle %s, write %s; want read and idle set, and no write timeout that would end live streams",
			hs.ReadTimeout, hs.IdleTimeout, hs.WriteTimeout)
	}
	// The same server with its timeouts shortened, so that the test need not wait for them.
	f.srv.http.ReadTimeout, f.srv.http.IdleTimeout = 300*time.Millisecond, 300*time.Millisecond
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go f.srv.Serve(l)
	base := "http://" + l.Addr().String()

	req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/p/api/b/1/live?offset=0", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ch := make(chan sseEvent, 100)
	go readEvents(t, resp.Body, ch)
	nextLines(t, ch, 1)

	closed := func(what, send string) {
		t.Helper()
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, send)
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatalf("%s: the server kept the connection: %v", what, err)
		}
	}
	closed("a body sent slowly", "POST /logout HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ncsrf=")
	closed("an idle keep-alive connection", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")

	// Both timeouts have passed since the stream began: it still follows the build.
	io.WriteString(w, "step 2\n")
	f.bus.Publish(baleen.Event{Kind: baleen.EventLog, Project: "api", Build: 1, Text: "step 2", Offset: 7})
	if _, html, _, _ := nextLines(t, ch, 1); html[0] != "step 2" {
		t.Fatalf("live line after the timeouts: %q", html)
	}
}

// TestLiveStreamsPerClientBounded stops one client from opening live streams without end; others, and the
// same client once it closes one, are served.
func TestLiveStreamsPerClientBounded(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.PublicProjects = []string{"api"}; c.TrustedProxies = []string{"127.0.0.1"} })
	f.build("api", "main", baleen.StatusRunning, nil, "step 1\n")
	f.srv.streams.max = 2
	open := func(c *http.Client, path string, hdr ...string) (*http.Response, context.CancelFunc) {
		t.Helper()
		ctx, cancel := context.WithCancel(t.Context())
		req, _ := http.NewRequestWithContext(ctx, "GET", f.ts.URL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cancel(); resp.Body.Close() })
		return resp, cancel
	}
	anon := f.client("")
	var first context.CancelFunc
	for i := range 2 {
		resp, cancel := open(anon, "/p/api/b/1/live?offset=0")
		if resp.StatusCode != 200 {
			t.Fatalf("stream %d: got %s", i+1, resp.Status)
		}
		if first == nil {
			first = cancel
		}
	}
	for _, path := range []string{"/p/api/b/1/live?offset=0", "/api/v1/projects/api/builds/1/log?follow=1"} {
		resp, _ := open(anon, path)
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("%s beyond the limit: got %s, want 429", path, resp.Status)
			continue
		}
		if body, _ := io.ReadAll(resp.Body); !strings.Contains(string(body), "too many live streams") {
			t.Errorf("%s beyond the limit: %q gives no reason", path, body)
		}
	}
	if resp, _ := get(t, anon, f.ts.URL+"/api/v1/projects/api/builds/1/log"); resp.StatusCode != 200 {
		t.Errorf("a log read without follow is no stream: got %s", resp.Status)
	}
	if resp, _ := open(f.client("rita"), "/p/api/b/1/live?offset=0"); resp.StatusCode != 200 {
		t.Errorf("another client: got %s", resp.Status)
	}
	if resp, _ := open(anon, "/p/api/b/1/live?offset=0", "X-Forwarded-For", "203.0.113.9"); resp.StatusCode != 200 {
		t.Errorf("another client behind the trusted proxy: got %s", resp.Status)
	}
	first()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, _ := open(anon, "/p/api/b/1/live?offset=0")
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a stream closed is not given back: got %s", resp.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// signInLinkSurvivesPreview checks that opening a sign-in link (as a chat's link preview or a mail scanner
// does) spends nothing and signs nobody in, and that a form posted to it from another site is refused, so
// that no site can sign a browser in as someone else. The link is still unspent afterwards.
func signInLinkSurvivesPreview(t *testing.T, c *http.Client, base, link string) {
	t.Helper()
	for range 2 {
		resp, body := get(t, c, link)
		if resp.StatusCode != 200 || resp.Header.Get("Set-Cookie") != "" {
			t.Fatalf("opening the link: got %s, cookie %q; want 200 and no session", resp.Status, resp.Header.Get("Set-Cookie"))
		}
		if action := strings.TrimPrefix(link, base); !strings.Contains(body, `<form method="post" action="`+action+`"`) {
			t.Fatalf("the link's page has no form that posts to %s:\n%s", action, body)
		}
	}
	for _, hdr := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
		if resp, body := redeem(t, c, link, hdr...); resp.StatusCode != http.StatusForbidden || resp.Header.Get("Set-Cookie") != "" {
			t.Fatalf("a sign-in posted with %s: got %s, cookie %q:\n%s", hdr, resp.Status, resp.Header.Get("Set-Cookie"), body)
		}
	}
}

// TestBadInputIsAClearRefusal sends odd paths and parameters: each gets a 4xx that says what was wrong (or
// a harmless answer), never a 500.
func TestBadInputIsAClearRefusal(t *testing.T) {
	f := newFixture(t, nil)
	f.build("api", "main", baleen.StatusPassed, nil, "one\ntwo\n")
	ann := f.client("ann")
	tests := []struct {
		path string
		want int
		says string
	}{
		{"/p/%E2%80%AEipa", 400, "project"},
		{"/p/" + strings.Repeat("a", 5000), 400, "project"},
		{"/p/api/b/99999999999999999999", 400, "want a build number"},
		{"/p/api/b/-1", 400, "want a build number"},
		{"/p/api/b/999", 404, "not found"},
		{"/p/nothere", 404, "not found"},
		{"/p/api/b/1?before=99999999999999999999", 200, "two"},
		{"/p/api?page=99999999999999999999&status=%00", 200, "No builds match"},
		{"/p/api/b/1/log.txt?download", 200, "two"},
		{"/p/api/b/1/artifacts/%2e%2e%2f%2e%2e%2fetc%2fpasswd", 404, "no artifact"},
		{"/p/api/b/999/live", 404, "not found"},
		{"/api/v1/projects/api/builds?limit=99999", 400, "want 1 to 1000"},
		{"/api/v1/projects/api/builds?before=x", 400, "want a build number"},
		{"/api/v1/projects/api/builds/1/log?offset=-1", 400, "want a byte offset"},
		{"/api/v1/projects/api/builds/1/log?offset=99999999999999999999", 400, "want a byte offset"},
		{"/api/v1/projects/api/builds/1/log?offset=9999999", 200, ""},
		{"/api/v1/projects/api/builds/1/log?format=xml", 400, "want text or json"},
		{"/api/v1/projects/%F0%9F%90%8B/builds/1", 400, "project"},
		{"/badge/nothere/main.svg", 200, "unknown"},
	}
	for _, tt := range tests {
		resp, body := get(t, ann, f.ts.URL+tt.path)
		if resp.StatusCode != tt.want || !strings.Contains(body, tt.says) {
			t.Errorf("%s: got %s, want %d saying %q:\n%.300s", tt.path, resp.Status, tt.want, tt.says, body)
		}
	}
	_, page := get(t, ann, f.ts.URL+"/p/api/releases")
	if resp, body := post(t, ann, f.ts.URL+"/p/api/rollback", url.Values{"csrf": {csrfOf(t, page)}, "release": {"1e9"}}); resp.StatusCode != 400 || !strings.Contains(body, "want a release number") {
		t.Errorf("rollback to release 1e9: got %s:\n%.300s", resp.Status, body)
	}
}

// TestBasicAuthProxyIsNoToken: a reverse proxy that asks for a password (nginx auth_basic) passes its
// Authorization: Basic header on; that is not Baleen's credential, and the browser's session still counts.
func TestBasicAuthProxyIsNoToken(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.PublicProjects = []string{"open"} })
	f.build("api", "main", baleen.StatusPassed, nil, "")
	f.build("open", "main", baleen.StatusPassed, nil, "")
	basic := []string{"Authorization", "Basic YWxpY2U6c2VjcmV0"}
	if resp, body := get(t, f.client("rita"), f.ts.URL+"/p/api", basic...); resp.StatusCode != 200 {
		t.Errorf("signed in behind a password-asking proxy: got %s:\n%.300s", resp.Status, body)
	}
	if resp, _ := get(t, f.client(""), f.ts.URL+"/p/open", basic...); resp.StatusCode != 200 {
		t.Errorf("a public project behind a password-asking proxy: got %s", resp.Status)
	}
	if resp, _ := get(t, f.client(""), f.ts.URL+"/api/v1/projects/api", basic...); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a private project with only the proxy's password: got %s, want 401", resp.Status)
	}
	if resp, _ := get(t, f.client(""), f.ts.URL+"/api/v1/projects/open", "Authorization", "Bearer bln_nope"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a bad API token: got %s, want 401", resp.Status)
	}
}

// downEngine is an engine that does not answer, as a Docker client says so: with its address.
type downEngine struct{}

func (downEngine) Ping(context.Context) error {
	return errors.New("dial tcp 10.20.30.40:2376: connect: connection refused")
}

// TestReadyzTellsNoAddresses: /readyz answers anyone, so it says what is not ready without the engine's
// address (the log has the whole error).
func TestReadyzTellsNoAddresses(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Engine = downEngine{} })
	resp, body := get(t, f.client(""), f.ts.URL+"/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "engine") || strings.Contains(body, "10.20.30.40") {
		t.Fatalf("readyz with the engine down: got %s %q, want 503 naming the engine but not its address", resp.Status, body)
	}
}

// TestDependencyOfUnreadableProjectIsHidden: a reader of a public project whose build ran with a build
// of a private one sees that dependency's name alone, on the pages and in the API, and a pusher naming
// the private project does not name it.
func TestDependencyOfUnreadableProjectIsHidden(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.PublicProjects = []string{"open"} })
	f.build("secret", "hidden-branch", baleen.StatusPassed, nil, "")
	b := f.build("open", "main", baleen.StatusPassed, nil, "")
	deps := []baleen.DependencyBuild{{Name: "db", Project: "secret", Branch: "hidden-branch", Commit: "feedc0de", Build: 1}}
	if _, err := f.st.UpdateBuild(t.Context(), "open", b.Number, baleen.BuildPatch{Dependencies: deps}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.CreateBuild(t.Context(), baleen.Build{Project: "open", Branch: "main", Commit: strings.Repeat("cd", 20),
		Pusher: "rebuild after secret hidden-branch", Status: baleen.StatusQueued, Created: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/p/open", "/p/open/b/1", "/p/open/b/2", "/api/v1/projects/open", "/api/v1/projects/open/builds",
		"/api/v1/projects/open/builds/1", "/api/v1/projects/open/builds/2"} {
		resp, body := get(t, f.client(""), f.ts.URL+path)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: got %s", path, resp.Status)
		}
		for _, leak := range []string{"secret", "hidden-branch", "feedc0de"} {
			if strings.Contains(body, leak) {
				t.Errorf("%s names %q, of a project its reader may not read:\n%s", path, leak, body)
			}
		}
	}
	if _, body := get(t, f.client(""), f.ts.URL+"/api/v1/projects/open/builds/1"); !strings.Contains(body, `"name": "db"`) {
		t.Errorf("the dependency's name is gone too:\n%s", body)
	}
}
