package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// accessServer starts a server whose config names two users, reader (read on app) and shopper (write on
// shop-*), a credential for shop-* only, and the web side; the harness key stays admin through the
// authorized keys file. It returns the users' private keys, the reader's key file and the web address.
func accessServer(t *testing.T) (s *server, reader, shopper, readerFile, webURL string) {
	t.Helper()
	s = newServer(t)
	reader, shopper = s.newKey("reader"), s.newKey("shopper")
	readerFile = reader + ".pub"
	shopperPub, err := os.ReadFile(shopper + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "config.yml")
	yml := "http:\n  listen: 127.0.0.1:0\n" +
		"users:\n  reader: {key_files: [" + readerFile + "]}\n" +
		"  shopper: {keys: [\"" + strings.TrimSpace(string(shopperPub)) + "\"], email: shop@example.com}\n" +
		"access:\n  - {projects: [app], users: [reader], role: read}\n  - {projects: [\"shop-*\"], users: [shopper], role: write}\n" +
		"credentials:\n  SHOP_TOKEN: {env: BALEEN_TEST_SHOP_TOKEN, projects: [\"shop-*\"]}\n  APP_TOKEN: {env: BALEEN_TEST_APP_TOKEN, projects: [app]}\n"
	if err := os.WriteFile(cfg, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start("--config", cfg)
	deadline := time.Now().Add(30 * time.Second)
	for webURL == "" && time.Now().Before(deadline) {
		if m := webAddr.FindStringSubmatch(s.log.String()); m != nil {
			webURL = "http://" + m[1]
		}
		time.Sleep(50 * time.Millisecond)
	}
	if webURL == "" {
		t.Fatalf("the web side did not start:\n%s", s.log.String())
	}
	return s, reader, shopper, readerFile, webURL
}

// TestServeWhoamiAndWebLogin: the admin key of the authorized keys file says who it is, and the link
// `web-login` prints signs a browser in once.
func TestServeWhoamiAndWebLogin(t *testing.T) {
	s, _, _, _, webURL := accessServer(t)
	want(t, s.ssh("whoami"), 0, "from the authorized keys file", "admin on every project")
	login := s.ssh("web-login")
	want(t, login, 0, webURL+"/login/")
	link := strings.TrimSpace(login.stdout)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	if code, body := get(t, client, webURL+"/"); code != http.StatusOK || !strings.Contains(body, "not signed in") {
		t.Fatalf("the dashboard before sign-in: %d\n%s", code, body)
	}
	// The link opens a page whose button posts to the link: that signs in and redirects to the dashboard,
	// which names the key.
	if code, body := get(t, client, link); code != http.StatusOK || !strings.Contains(body, `<form method="post"`) {
		t.Fatalf("sign-in link's page: %d\n%s", code, body)
	}
	if code, body := postEmpty(t, client, link); code != http.StatusOK || !strings.Contains(body, `<span class="who">SHA256:`) {
		t.Fatalf("sign-in link: %d\n%s", code, body)
	}
	if code, _ := postEmpty(t, &http.Client{Timeout: 30 * time.Second}, link); code != http.StatusForbidden {
		t.Fatalf("the link used a second time: got %d, want 403", code)
	}
	want(t, s.ssh("web-logout"), 0, "ended 1 web session(s)")
	if _, body := get(t, client, webURL+"/"); !strings.Contains(body, "not signed in") {
		t.Fatalf("still signed in after web-logout:\n%s", body)
	}
}

// postEmpty posts no body to url, as a form with no fields does.
func postEmpty(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Post(url, "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(bytes.TrimSpace(body))
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(bytes.TrimSpace(body))
}
