package web

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
)

// TestSecureCookieBehindProxy marks the session cookie Secure when a trusted proxy says the client used
// HTTPS, and ignores the header from anyone else.
func TestSecureCookieBehindProxy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		proxies []string
		secure  bool
	}{
		{"trusted proxy", []string{"127.0.0.1"}, true},
		{"untrusted client", []string{"10.0.0.0/8"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.TrustedProxies = tc.proxies })
			link, _ := f.srv.LoginURL(t.Context(), baleen.Identity{User: "ann", Fingerprint: "SHA256:ann"}, f.ts.URL)
			resp, _ := redeem(t, f.client(""), link, "X-Forwarded-Proto", "https")
			if got := strings.Contains(resp.Header.Get("Set-Cookie"), "Secure"); got != tc.secure {
				t.Fatalf("cookie %q: Secure %v, want %v", resp.Header.Get("Set-Cookie"), got, tc.secure)
			}
		})
	}
	if _, err := New(Config{Projects: nil}); err == nil {
		t.Error("New without stores: want an error")
	}
	st := newFixture(t, nil).st
	if _, err := New(Config{Projects: st, Builds: st, Authorizer: testRoles, TrustedProxies: []string{"not-an-address"}}); err == nil || !strings.Contains(err.Error(), "not-an-address") {
		t.Errorf("bad trusted proxy: got %v, want an error naming it", err)
	}
}

func TestAPILogFollow(t *testing.T) {
	f := newFixture(t, nil)
	b := f.build("api", "main", baleen.StatusRunning, nil, "")
	ctx := context.Background()
	w, err := f.st.LogWriter(ctx, "api", b.Number)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "first\n")
	secret, _, err := CreateToken(ctx, f.st, baleen.Identity{User: "rita", Fingerprint: "SHA256:rita"}, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", f.ts.URL+"/api/v1/projects/api/builds/1/log?follow=1", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	io.WriteString(w, "second\n")
	w.Close()
	st, end := baleen.StatusPassed, time.Now().UTC()
	if _, err := f.st.UpdateBuild(ctx, "api", 1, baleen.BuildPatch{Status: &st, Finished: &end}); err != nil {
		t.Fatal(err)
	}
	f.bus.Publish(baleen.Event{Kind: baleen.EventBuildFinished, Project: "api", Build: 1, Status: st})
	select {
	case body := <-got:
		if body != "first\nsecond\n" {
			t.Fatalf("followed log: got %q, want both lines", body)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the followed log did not end with the build")
	}
}

func TestReleasesPageRollback(t *testing.T) {
	f := newFixture(t, nil)
	f.build("api", "main", baleen.StatusPassed, nil, "")
	if _, err := f.st.CreateRelease(context.Background(), baleen.Release{Project: "api", Build: 1, Target: "prod", Status: baleen.StatusPassed,
		Hosts: []baleen.HostResult{{Host: "web1", Status: baleen.StatusPassed}, {Host: "web2", Status: baleen.StatusFailed, Message: "unit api: not active"}}, Started: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	ann := f.client("ann")
	_, page := get(t, ann, f.ts.URL+"/p/api/releases")
	for _, w := range []string{"web1", "web2", "unit api: not active", "Roll back to #1"} {
		if !strings.Contains(page, w) {
			t.Errorf("releases page lacks %q", w)
		}
	}
	if _, dash := get(t, ann, f.ts.URL+"/"); !strings.Contains(dash, "prod: release #1") {
		t.Error("dashboard lacks the current release")
	}
	resp, body := post(t, ann, f.ts.URL+"/p/api/rollback", url.Values{"csrf": {csrfOf(t, page)}, "release": {"1"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("rollback: got %s:\n%s", resp.Status, body)
	}
	if got, want := f.actions.Calls(), []string{"rollback api 1 web by ann"}; !slices.Equal(got, want) {
		t.Fatalf("actions: got %q, want %q", got, want)
	}
	wes := f.client("wes")
	_, page = get(t, wes, f.ts.URL+"/p/api/releases")
	if strings.Contains(page, "Roll back") {
		t.Error("a writer is offered rollback")
	}
	if resp, _ := post(t, wes, f.ts.URL+"/p/api/rollback", url.Values{"csrf": {csrfOf(t, page)}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("writer rollback: got %s, want 403", resp.Status)
	}
}

func TestParseExpiry(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30d", 30 * 24 * time.Hour, true},
		{"12h", 12 * time.Hour, true},
		{"0d", 0, false},
		{"-1h", 0, false},
		{"soon", 0, false},
		{"3dd", 0, false},
	} {
		got, err := ParseExpiry(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseExpiry(%q): got %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
