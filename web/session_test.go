package web

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/access"
	"github.com/baleen-ci/baleen/store"
	gossh "golang.org/x/crypto/ssh"
)

// sessionServer serves a Server over the store in dir until the test ends or stop is called.
func sessionServer(t *testing.T, dir string, authz baleen.Authorizer) (srv *Server, url string, st *store.Store, stop func()) {
	t.Helper()
	st, err := store.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err = New(Config{Projects: st, Builds: st, Authorizer: authz, Tokens: st, Sessions: st})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	stop = func() {
		ts.Close()
		srv.Close()
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(stop)
	return srv, ts.URL, st, stop
}

func signIn(t *testing.T, srv *Server, url string, id baleen.Identity) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	link, err := srv.LoginURL(t.Context(), id, url)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := redeem(t, c, link); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in link: got %s, want 303", resp.Status)
	}
	return c
}

// A session is kept in the store: it survives a restart of the server (the cookie jar ignores the new
// port, as browsers do), only a hash of its secret is stored, and web-logout ends it.
func TestSessionSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	srv, url, st, stop := sessionServer(t, dir, testRoles)
	if err := st.CreateProject(t.Context(), baleen.Project{Name: "api"}); err != nil {
		t.Fatal(err)
	}
	rita := baleen.Identity{User: "rita", Fingerprint: "SHA256:rita"}
	c := signIn(t, srv, url, rita)
	if resp, _ := get(t, c, url+"/p/api"); resp.StatusCode != http.StatusOK {
		t.Fatalf("signed in: got %s, want 200", resp.Status)
	}
	var secret string
	for _, ck := range c.Jar.Cookies(mustURL(t, url)) {
		if ck.Name == sessionCookie {
			secret = ck.Value
		}
	}
	if _, err := st.SessionByHash(t.Context(), secret); err == nil {
		t.Error("the store finds the session by its secret: it must keep only a hash")
	}
	stop()

	srv, url, _, _ = sessionServer(t, dir, testRoles)
	if resp, _ := get(t, c, url+"/p/api"); resp.StatusCode != http.StatusOK {
		t.Fatalf("after a restart: got %s, want 200 (the session must survive)", resp.Status)
	}
	if n, err := srv.Logout(t.Context(), rita.Fingerprint); n != 1 || err != nil {
		t.Fatalf("web-logout ended %d sessions (err %v), want 1", n, err)
	}
	if resp, _ := get(t, c, url+"/p/api"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("after web-logout: got %s, want 403", resp.Status)
	}
}

// TestSessionEndsWhenKeyRevoked stops a browser signed in with a key that was then removed from the
// authorized keys from reading on, and from reading again if the key comes back: revoking the key ends its
// sessions.
func TestSessionEndsWhenKeyRevoked(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(t.TempDir(), "authorized_keys")
	line := gossh.MarshalAuthorizedKey(key)
	if err := os.WriteFile(keys, line, 0o600); err != nil {
		t.Fatal(err)
	}
	policy := access.New(access.Options{AuthorizedKeys: keys})
	id, ok := policy.Lookup(key)
	if !ok {
		t.Fatal("the key is not authorized")
	}
	srv, url, st, _ := sessionServer(t, t.TempDir(), policy)
	if err := st.CreateProject(t.Context(), baleen.Project{Name: "api"}); err != nil {
		t.Fatal(err)
	}
	c := signIn(t, srv, url, id)
	if resp, _ := get(t, c, url+"/p/api"); resp.StatusCode != http.StatusOK {
		t.Fatalf("signed in: got %s, want 200", resp.Status)
	}
	if err := os.WriteFile(keys, []byte("# revoked\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, c, url+"/p/api"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("after revoking the key: got %s, want 403", resp.Status)
	}
	if err := os.WriteFile(keys, line, 0o600); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, c, url+"/p/api"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the key back: got %s, want 403 (its old session ended)", resp.Status)
	}
	if n, err := srv.Logout(t.Context(), id.Fingerprint); n != 0 || err != nil {
		t.Errorf("sessions left after the revocation: %d (err %v), want 0", n, err)
	}
}

func mustURL(t *testing.T, s string) *neturl.URL {
	t.Helper()
	u, err := neturl.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// A session's end moves on when it is used (at most once per extendAfter), and a session unused for
// SessionTTL is ended.
func TestSessionEndMovesOnWithUse(t *testing.T) {
	srv, url, st, _ := sessionServer(t, t.TempDir(), testRoles)
	if err := st.CreateProject(t.Context(), baleen.Project{Name: "api"}); err != nil {
		t.Fatal(err)
	}
	c := signIn(t, srv, url, baleen.Identity{User: "rita", Fingerprint: "SHA256:rita"})
	var key string
	for _, ck := range c.Jar.Cookies(mustURL(t, url)) {
		if ck.Name == sessionCookie {
			key = hash(ck.Value)
		}
	}
	first, err := st.SessionByHash(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	setClock := func(d time.Duration) {
		srv.sessions.mu.Lock()
		srv.sessions.now = func() time.Time { return time.Now().Add(d) }
		srv.sessions.mu.Unlock()
	}
	setClock(2 * extendAfter)
	if resp, _ := get(t, c, url+"/p/api"); resp.StatusCode != http.StatusOK {
		t.Fatalf("used later: got %s, want 200", resp.Status)
	}
	moved, err := st.SessionByHash(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if got := moved.Expires.Sub(first.Expires); got < extendAfter {
		t.Errorf("the session's end moved on by %s after use two hours on, want at least %s", got, extendAfter)
	}
	setClock(2*extendAfter + SessionTTL + time.Minute)
	if resp, _ := get(t, c, url+"/p/api"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unused for longer than SessionTTL: got %s, want 403", resp.Status)
	}
	if _, err := st.SessionByHash(t.Context(), key); !errors.Is(err, baleen.ErrNotFound) {
		t.Errorf("the expired session is still stored (err %v)", err)
	}
}

// A sign-in link is kept in the store: one made before a restart of the server opens a session after it,
// once; a second opening is refused, and so is a link opened after LoginTTL.
func TestLoginLinkSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	srv, url, st, stop := sessionServer(t, dir, testRoles)
	if err := st.CreateProject(t.Context(), baleen.Project{Name: "api"}); err != nil {
		t.Fatal(err)
	}
	rita := baleen.Identity{User: "rita", Fingerprint: "SHA256:rita"}
	link, err := srv.LoginURL(t.Context(), rita, url)
	if err != nil {
		t.Fatal(err)
	}
	late, err := srv.LoginURL(t.Context(), rita, url)
	if err != nil {
		t.Fatal(err)
	}
	stop()

	srv, url2, _, _ := sessionServer(t, dir, testRoles)
	link = strings.Replace(link, url, url2, 1)
	late = strings.Replace(late, url, url2, 1)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, _ := redeem(t, c, link); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the link made before the restart: got %s, want 303", resp.Status)
	}
	if resp, _ := get(t, c, url2+"/p/api"); resp.StatusCode != http.StatusOK {
		t.Fatalf("signed in with it: got %s, want 200", resp.Status)
	}
	if resp, body := redeem(t, &http.Client{}, link); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "used already") {
		t.Fatalf("the link opened twice: got %s, want 403 saying it was used", resp.Status)
	}
	srv.sessions.mu.Lock()
	srv.sessions.now = func() time.Time { return time.Now().Add(LoginTTL + time.Second) }
	srv.sessions.mu.Unlock()
	if resp, _ := redeem(t, &http.Client{}, late); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the link opened after LoginTTL: got %s, want 403", resp.Status)
	}
}
