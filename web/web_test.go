package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
)

func cov(f float64) *float64 { return &f }

func TestPagesShowBuilds(t *testing.T) {
	f := newFixture(t, nil)
	f.build("api", "main", baleen.StatusPassed, &baleen.TestReport{Passed: 3, Coverage: cov(81.5)}, "==> build\nok\n")
	f.build("api", "main", baleen.StatusFailed, &baleen.TestReport{Passed: 2, Failed: 1,
		Failures: []baleen.TestFailure{{Name: "pkg.TestAdd", Message: "got 3, want 4"}}, Coverage: cov(80)}, "==> test\n\x1b[31mFAIL\x1b[0m TestAdd\n")
	c := f.client("rita")
	tests := []struct {
		name, path string
		want       []string
	}{
		{"dashboard", "/", []string{"api", `class="st st-failed"`, "main #2", "80.0%"}},
		{"project", "/p/api", []string{"#1", "#2", `<svg class="chart"`, `href="/p/api/b/1"`, "Coverage %"}},
		{"project filtered", "/p/api?status=passed", []string{`href="/p/api/b/1">#1`}},
		{"build", "/p/api/b/2", []string{"got 3, want 4", "pkg.TestAdd", `<span class="a-f2">FAIL</span>`, `id="L2"`, "-1.5% since #1", "<summary>test</summary>"}},
		{"raw log", "/p/api/b/2/log.txt", []string{"==> test\n\x1b[31mFAIL"}},
		{"releases", "/p/api/releases", []string{"No releases yet"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, c, f.ts.URL+tt.path)
			if resp.StatusCode != 200 {
				t.Fatalf("got %s, want 200:\n%s", resp.Status, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
		})
	}
	_, body := get(t, c, f.ts.URL+"/p/api?status=passed")
	if strings.Contains(body, `href="/p/api/b/2">#2`) {
		t.Error("status filter passed kept the failed build")
	}
}

func TestProjectPagePaginates(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Public = true })
	for range pageSize + 3 {
		f.build("big", "main", baleen.StatusPassed, nil, "")
	}
	c := f.client("")
	_, first := get(t, c, f.ts.URL+"/p/big")
	if !strings.Contains(first, `href="/p/big/b/53">#53`) || strings.Contains(first, `href="/p/big/b/3">#3<`) || !strings.Contains(first, `rel="next"`) {
		t.Fatal("page 1 should list builds 53..4 and link to the next page")
	}
	for _, p := range []string{"-1", "9223372036854775807", "x"} {
		if resp, _ := get(t, c, f.ts.URL+"/p/big?page="+p); resp.StatusCode != 200 {
			t.Errorf("page %s: got %s, want 200", p, resp.Status)
		}
	}
	_, second := get(t, c, f.ts.URL+"/p/big?page=2")
	if !strings.Contains(second, `href="/p/big/b/3">#3<`) || strings.Contains(second, `rel="next"`) {
		t.Fatal("page 2 should list builds 3..1 and no next page")
	}
}

func TestAccess(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.PublicProjects = []string{"open"} })
	f.build("secret", "main", baleen.StatusPassed, nil, "")
	f.build("open", "main", baleen.StatusPassed, nil, "")
	anon := f.client("")
	tests := []struct {
		name string
		path string
		want int
	}{
		{"private page", "/p/secret", http.StatusForbidden},
		{"private build", "/p/secret/b/1", http.StatusForbidden},
		{"private log", "/p/secret/b/1/log.txt", http.StatusForbidden},
		{"private api", "/api/v1/projects/secret/builds", http.StatusUnauthorized},
		{"public page", "/p/open", http.StatusOK},
		{"public api", "/api/v1/projects/open/builds/1", http.StatusOK},
		{"unknown", "/p/nothere", http.StatusForbidden},
		{"bad name", "/p/..%2fetc", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, anon, f.ts.URL+tt.path)
			if resp.StatusCode != tt.want {
				t.Fatalf("got %s, want %d:\n%s", resp.Status, tt.want, body)
			}
		})
	}
	_, dash := get(t, anon, f.ts.URL+"/")
	if strings.Contains(dash, "secret") || !strings.Contains(dash, "open") {
		t.Error("the anonymous dashboard must list the public project only")
	}
}

// TestSignInLinkOnce stops a sign-in link from being replayed or used after it expired, or spent by being
// opened without its button, or used from another site.
func TestSignInLinkOnce(t *testing.T) {
	f := newFixture(t, nil)
	f.build("api", "main", baleen.StatusPassed, nil, "")
	link, err := f.srv.LoginURL(t.Context(), baleen.Identity{User: "rita", Fingerprint: "SHA256:rita"}, f.ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := f.client("")
	signInLinkSurvivesPreview(t, c, f.ts.URL, link)
	resp, _ := redeem(t, c, link, "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("first use: got %s, want 303", resp.Status)
	}
	ck := resp.Header.Get("Set-Cookie")
	for _, w := range []string{"HttpOnly", "SameSite=Lax", sessionCookie + "="} {
		if !strings.Contains(ck, w) {
			t.Errorf("cookie %q lacks %s", ck, w)
		}
	}
	if strings.Contains(ck, "Secure") {
		t.Errorf("cookie %q is Secure over plain HTTP: the browser would drop it", ck)
	}
	if resp, _ := get(t, c, f.ts.URL+"/p/api"); resp.StatusCode != 200 {
		t.Fatalf("signed in: got %s, want 200", resp.Status)
	}
	if resp, _ := redeem(t, f.client(""), link); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("second use: got %s, want 403", resp.Status)
	}
	late, _ := f.srv.LoginURL(t.Context(), baleen.Identity{User: "rita"}, f.ts.URL)
	f.srv.sessions.now = func() time.Time { return time.Now().Add(LoginTTL + time.Second) }
	if resp, _ := redeem(t, f.client(""), late); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("expired link: got %s, want 403", resp.Status)
	}
	f.srv.sessions.now = time.Now
	if n, err := f.srv.Logout(t.Context(), "SHA256:rita"); n != 1 || err != nil {
		t.Fatalf("Logout ended %d sessions (err %v), want 1", n, err)
	}
	if resp, _ := get(t, c, f.ts.URL+"/p/api"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("after logout: got %s, want 403", resp.Status)
	}
}

// TestSessionFollowsAuthorizer stops a removed key's session from reading on: roles are asked on every
// request.
func TestSessionFollowsAuthorizer(t *testing.T) {
	r := roles{"gone": {"*": baleen.RoleRead}}
	f := newFixture(t, func(c *Config) { c.Authorizer = r })
	f.build("api", "main", baleen.StatusPassed, nil, "")
	c := f.client("gone")
	if resp, _ := get(t, c, f.ts.URL+"/p/api"); resp.StatusCode != 200 {
		t.Fatalf("got %s, want 200", resp.Status)
	}
	delete(r, "gone")
	if resp, _ := get(t, c, f.ts.URL+"/p/api"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("after revocation: got %s, want 403", resp.Status)
	}
}

// TestActionsNeedCSRFAndRole stops cross-site form posts and users without the role from acting.
func TestActionsNeedCSRFAndRole(t *testing.T) {
	f := newFixture(t, nil)
	f.build("api", "main", baleen.StatusPassed, nil, "")
	wes, rita, ann := f.client("wes"), f.client("rita"), f.client("ann")
	_, page := get(t, wes, f.ts.URL+"/p/api/b/1")
	token := csrfOf(t, page)
	if strings.Contains(page, "/deploy") {
		t.Error("a writer is offered deploy")
	}
	tests := []struct {
		name   string
		c      interface{}
		path   string
		csrf   string
		status int
	}{
		{"no token", wes, "/p/api/b/1/rebuild", "", http.StatusForbidden},
		{"wrong token", wes, "/p/api/b/1/rebuild", "00" + token[2:], http.StatusForbidden},
		{"reader", rita, "/p/api/b/1/rebuild", "", http.StatusForbidden},
		{"writer deploys", wes, "/p/api/b/1/deploy", token, http.StatusForbidden},
		{"writer rebuilds", wes, "/p/api/b/1/rebuild", token, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c.(*http.Client)
			form := url.Values{}
			if tt.csrf != "" {
				form.Set("csrf", tt.csrf)
			}
			if tt.name == "reader" {
				_, p := get(t, rita, f.ts.URL+"/p/api/b/1")
				if strings.Contains(p, "Rebuild") {
					t.Error("a reader is offered rebuild")
				}
				form.Set("csrf", csrfOf(t, p))
			}
			resp, body := post(t, c, f.ts.URL+tt.path, form)
			if resp.StatusCode != tt.status {
				t.Fatalf("got %s, want %d:\n%s", resp.Status, tt.status, body)
			}
		})
	}
	if got, want := f.actions.Calls(), []string{"rebuild api 1 web by wes"}; !slices.Equal(got, want) {
		t.Fatalf("actions: got %q, want %q", got, want)
	}
	// The rebuild acts for the signed-in user, whose roles decide which projects its dependencies may name.
	f.actions.mu.Lock()
	ids := slices.Clone(f.actions.identities)
	f.actions.mu.Unlock()
	if len(ids) != 1 || ids[0].User != "wes" || ids[0].Fingerprint == "" {
		t.Errorf("the rebuild acts for %+v, want wes with the key wes signed in with", ids)
	}
	_, page = get(t, ann, f.ts.URL+"/p/api/b/1")
	if resp, body := post(t, ann, f.ts.URL+"/p/api/b/1/deploy", url.Values{"csrf": {csrfOf(t, page)}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("admin deploy: got %s:\n%s", resp.Status, body)
	}
	if resp, _ := get(t, ann, f.ts.URL+"/p/api/b/1/rebuild"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET of an action: got %s, want 405", resp.Status)
	}
}

func TestAPI(t *testing.T) {
	f := newFixture(t, nil)
	f.build("api", "main", baleen.StatusPassed, &baleen.TestReport{Passed: 4, Coverage: cov(90)}, "line one\nline two\n")
	f.build("api", "dev", baleen.StatusFailed, nil, "")
	secret, _, err := CreateToken(t.Context(), f.st, baleen.Identity{User: "wes", Fingerprint: "SHA256:wes"}, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	ro, _, err := CreateToken(t.Context(), f.st, baleen.Identity{User: "ann", Fingerprint: "SHA256:ann"}, true, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := f.client("")
	auth := []string{"Authorization", "Bearer " + secret}
	resp, body := get(t, c, f.ts.URL+"/api/v1/projects/api/builds?branch=main", auth...)
	if resp.StatusCode != 200 {
		t.Fatalf("builds: got %s:\n%s", resp.Status, body)
	}
	var bs []map[string]any
	if err := json.Unmarshal([]byte(body), &bs); err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 || bs[0]["number"] != float64(1) || bs[0]["duration_ms"] != float64(75000) {
		t.Fatalf("got %s, want build 1 of main lasting 75000 ms", body)
	}
	if _, err := time.Parse(time.RFC3339, bs[0]["created"].(string)); err != nil {
		t.Errorf("created is not RFC 3339: %v", err)
	}
	if st := bs[0]["stages"].([]any)[0].(map[string]any); st["duration_ms"] != float64(10000) {
		t.Errorf("stage: got %v, want duration_ms 10000", st)
	}
	if _, body := get(t, c, f.ts.URL+"/api/v1/projects/api/builds/1/coverage", auth...); !strings.Contains(body, `"percent": 90`) {
		t.Errorf("coverage: got %s", body)
	}
	if _, body := get(t, c, f.ts.URL+"/api/v1/projects/api/builds/1/log?offset=9", auth...); body != "line two\n" {
		t.Errorf("log from offset 9: got %q, want %q", body, "line two\n")
	}
	if resp, _ := get(t, c, f.ts.URL+"/api/v1/projects", "Authorization", "Bearer bln_nope"); resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unknown token: got %s, want 401", resp.Status)
	}
	act := func(tok string) *http.Response {
		req, _ := http.NewRequest("POST", f.ts.URL+"/api/v1/projects/api/builds/1/rebuild", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := act(ro); r.StatusCode != http.StatusForbidden {
		t.Errorf("read-only token rebuild: got %s, want 403", r.Status)
	}
	if r := act(""); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous rebuild: got %s, want 401", r.Status)
	}
	if r := act(secret); r.StatusCode != http.StatusOK {
		t.Errorf("writer token rebuild: got %s, want 200", r.Status)
	}
	if got := f.actions.Calls(); len(got) != 1 {
		t.Errorf("actions: got %q, want one rebuild", got)
	}
	list, _ := ListTokens(t.Context(), f.st, "SHA256:wes", false)
	if len(list) != 1 {
		t.Fatalf("wes's tokens: got %d, want 1", len(list))
	}
	if err := RevokeToken(t.Context(), f.st, list[0].ID, "SHA256:ann", false); err == nil {
		t.Error("ann revoked wes's token")
	}
	if err := RevokeToken(t.Context(), f.st, list[0].ID, "SHA256:wes", false); err != nil {
		t.Fatal(err)
	}
	if r := act(secret); r.StatusCode != http.StatusUnauthorized && r.StatusCode != http.StatusForbidden {
		t.Errorf("revoked token: got %s, want refused", r.Status)
	}
}

func TestBadges(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Public = true })
	f.build("api", "main", baleen.StatusPassed, &baleen.TestReport{Passed: 1, Coverage: cov(72.25)}, "")
	c := f.client("")
	resp, body := get(t, c, f.ts.URL+"/badge/api/main.svg")
	if resp.StatusCode != 200 || !strings.Contains(body, "passed") || resp.Header.Get("Content-Type") != "image/svg+xml" {
		t.Fatalf("status badge: %s %q", resp.Status, body)
	}
	etag := resp.Header.Get("ETag")
	if resp, _ := get(t, c, f.ts.URL+"/badge/api/main.svg", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation: got %s, want 304", resp.Status)
	}
	f.build("api", "main", baleen.StatusFailed, nil, "")
	if resp, body := get(t, c, f.ts.URL+"/badge/api/main.svg", "If-None-Match", etag); resp.StatusCode != 200 || !strings.Contains(body, "failed") {
		t.Fatalf("after a red build: got %s %q, want the failed badge", resp.Status, body)
	}
	if _, body := get(t, c, f.ts.URL+"/badge/api/main/coverage.svg"); !strings.Contains(body, "72.2%") && !strings.Contains(body, "72.3%") {
		t.Fatalf("coverage badge: %q", body)
	}
	if _, body := get(t, c, f.ts.URL+"/badge/api/nope.svg"); !strings.Contains(body, "unknown") {
		t.Fatalf("unknown branch: %q", body)
	}
}

func TestMetricsFromEvents(t *testing.T) {
	f := newFixture(t, nil)
	f.build("api", "main", baleen.StatusPassed, nil, "")
	// The project is private: the scraper reads with a token of a key that may read it.
	tok, _, err := CreateToken(t.Context(), f.st, baleen.Identity{User: "rita", Fingerprint: "SHA256:rita"}, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The metrics subscribe in New; wait until the bus has them before publishing.
	deadline := time.Now().Add(10 * time.Second)
	for _, e := range []baleen.Event{
		{Kind: baleen.EventBuildQueued, Project: "api", Build: 1},
		{Kind: baleen.EventBuildStarted, Project: "api", Build: 1},
		{Kind: baleen.EventStageFinished, Project: "api", Build: 1, Stage: baleen.StageTest, Status: baleen.StatusPassed, Duration: 3 * time.Second},
		{Kind: baleen.EventBuildFinished, Project: "api", Build: 1, Status: baleen.StatusPassed, Duration: 20 * time.Second},
		{Kind: baleen.EventReleaseFinished, Project: "api", Build: 1, Status: baleen.StatusFailed},
	} {
		f.bus.Publish(e)
	}
	want := []string{
		`baleen_builds_total{project="api",result="passed"} 1`,
		`baleen_build_duration_seconds_count{project="api",result="passed"} 1`,
		`baleen_stage_duration_seconds_sum{result="passed",stage="test"} 3`,
		`baleen_deploys_total{project="api",result="failed"} 1`,
		`baleen_builds_running 0`,
		`baleen_store_size_bytes`,
	}
	for {
		_, body := get(t, f.client(""), f.ts.URL+"/metrics", "Authorization", "Bearer "+tok)
		missing := ""
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = w
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics lack %q:\n%s", missing, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if resp, body := get(t, f.client(""), f.ts.URL+"/readyz"); resp.StatusCode != 200 {
		t.Fatalf("readyz: %s %s", resp.Status, body)
	}
	if resp, _ := get(t, f.client(""), f.ts.URL+"/healthz"); resp.StatusCode != 200 {
		t.Fatalf("healthz: %s", resp.Status)
	}
}

func TestReadyzNeedsTheStore(t *testing.T) {
	f := newFixture(t, nil)
	if err := f.st.Close(); err != nil {
		t.Fatal(err)
	}
	if resp, body := get(t, f.client(""), f.ts.URL+"/readyz"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz with a closed store: got %s %s, want 503", resp.Status, body)
	}
}
