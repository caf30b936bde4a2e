package forge_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/forge"
	"github.com/baleen-ci/baleen/gitd"
	"github.com/baleen-ci/baleen/store"
)

const hookSecret = "It's a Secret to Everybody"

// fetcher adapts gitd's dependency fetch to forge.Fetcher.
type fetcher struct{ repos *gitd.Repositories }

func (f fetcher) Fetch(ctx context.Context, project, src, branch string) (string, error) {
	_, commit, err := f.repos.Fetch(ctx, []string{project}, project, src, branch)
	return commit, err
}

// builder records the builds asked of it in the store, as the scheduler would, without running them: it
// stands at the boundary where the scheduler takes over.
type builder struct {
	st *store.Store
	mu sync.Mutex
	n  int
}

func (b *builder) Build(ctx context.Context, project, branch, commit string) error {
	if err := b.st.CreateProject(ctx, baleen.Project{Name: project}); err != nil && !errors.Is(err, baleen.ErrExists) {
		return err
	}
	if _, err := b.st.CreateBuild(ctx, baleen.Build{Project: project, Branch: branch, Commit: commit, Pusher: forge.Pusher}); err != nil {
		return err
	}
	b.mu.Lock()
	b.n++
	b.mu.Unlock()
	return nil
}

func (b *builder) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@example.com", "GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// upstream makes a bare repository on disk (the forge's) with one commit on main, and returns its path and a
// function that adds a commit.
func upstream(t *testing.T) (string, func() string) {
	t.Helper()
	bare := filepath.Join(t.TempDir(), "shop-api.git")
	git(t, "", "init", "-q", "--bare", "-b", "main", bare)
	work := t.TempDir()
	git(t, work, "init", "-q", "-b", "main")
	n := 0
	commit := func() string {
		n++
		if err := os.WriteFile(filepath.Join(work, "f"), []byte(strings.Repeat("x", n)), 0o644); err != nil {
			t.Fatal(err)
		}
		git(t, work, "add", ".")
		git(t, work, "commit", "-q", "-m", "change")
		git(t, work, "push", "-q", bare, "main")
		return git(t, work, "rev-parse", "HEAD")
	}
	commit()
	return bare, commit
}

type fixture struct {
	f      *forge.Follower
	st     *store.Store
	b      *builder
	server *httptest.Server
	commit func() string
	data   string
	m      forge.Mirror
}

func newFixture(t *testing.T, m forge.Mirror) *fixture {
	t.Helper()
	bare, commit := upstream(t)
	m.URL = bare
	if err := m.Validate("shop-api"); err != nil {
		t.Fatal(err)
	}
	fx := &fixture{commit: commit, data: t.TempDir(), m: m}
	fx.start(t)
	return fx
}

// start opens the fixture's store and serves its webhooks, as a server starting on its data directory.
func (fx *fixture) start(t *testing.T) {
	t.Helper()
	st, err := store.Open(filepath.Join(fx.data, "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	repos, err := gitd.NewRepositories(filepath.Join(fx.data, "repos"))
	if err != nil {
		t.Fatal(err)
	}
	b := &builder{st: st}
	f, err := forge.NewFollower(map[string]forge.Mirror{"shop-api": fx.m}, filepath.Join(fx.data, "mirrors.json"), fetcher{repos}, b, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/hooks/", forge.NewHandler(f, st, nil))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	fx.f, fx.st, fx.b, fx.server = f, st, b, srv
}

// stop stops serving and closes the store, as a server shutting down.
func (fx *fixture) stop(t *testing.T) {
	t.Helper()
	fx.server.Close()
	if err := fx.st.Close(); err != nil {
		t.Fatal(err)
	}
}

func hexMAC(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// signed returns the headers each forge sends with body, signed with secret, per its documentation.
func signed(forgeKind, secret, id string, body []byte) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	switch forgeKind {
	case "github":
		h.Set("X-GitHub-Event", "push")
		h.Set("X-GitHub-Delivery", id)
		h.Set("X-Hub-Signature-256", "sha256="+hexMAC(secret, body))
	case "gitlab":
		h.Set("X-Gitlab-Event", "Push Hook")
		h.Set("X-Gitlab-Event-UUID", id)
		h.Set("X-Gitlab-Token", secret)
	case "gitea":
		h.Set("X-Gitea-Event", "push")
		h.Set("X-Gitea-Delivery", id)
		h.Set("X-Gitea-Signature", hexMAC(secret, body))
	case "forgejo":
		h.Set("X-Forgejo-Event", "push")
		h.Set("X-Forgejo-Delivery", id)
		h.Set("X-Forgejo-Signature", hexMAC(secret, body))
	}
	return h
}

func post(t *testing.T, url string, h http.Header, body []byte) int {
	t.Helper()
	return postFrom(t, url, h, bytes.NewReader(body))
}

// postFrom posts what body reads and returns the answer's status.
func postFrom(t *testing.T, url string, h http.Header, body io.Reader) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The push payloads from each forge's documentation, signed as that forge signs, start a sync that fetches
// the new commit and builds it; a wrong secret, no signature or a replayed delivery ID builds nothing.
func TestWebhooksFromEachForge(t *testing.T) {
	for _, c := range []struct{ kind, sample string }{
		{"github", "github-push.json"},
		{"gitlab", "gitlab-push.json"},
		{"gitea", "gitea-push.json"},
		{"forgejo", "gitea-push.json"},
	} {
		t.Run(c.kind, func(t *testing.T) {
			secretFile := filepath.Join(t.TempDir(), "secret")
			os.WriteFile(secretFile, []byte(hookSecret+"\n"), 0o600)
			fx := newFixture(t, forge.Mirror{Branches: []string{"main"}, WebhookSecretFile: secretFile})
			body, err := os.ReadFile(filepath.Join("testdata", c.sample))
			if err != nil {
				t.Fatal(err)
			}
			url := fx.server.URL + "/hooks/shop-api"
			head := fx.commit()

			// Forged: signed with another secret, or not signed at all.
			if code := post(t, url, signed(c.kind, "wrong secret", "d-0", body), body); code != http.StatusUnauthorized {
				t.Errorf("wrong secret: got %d, want 401", code)
			}
			if code := post(t, url, http.Header{"X-GitHub-Event": {"push"}}, body); code != http.StatusUnauthorized {
				t.Errorf("unsigned: got %d, want 401", code)
			}
			// A body changed after signing.
			tampered := bytes.Replace(body, []byte("refs/heads/main"), []byte("refs/heads/mian"), 1)
			if c.kind != "gitlab" { // GitLab's token does not cover the body
				if code := post(t, url, signed(c.kind, hookSecret, "d-00", body), tampered); code != http.StatusUnauthorized {
					t.Errorf("tampered body: got %d, want 401", code)
				}
			}

			if code := post(t, url, signed(c.kind, hookSecret, "d-1", body), body); code != http.StatusAccepted {
				t.Fatalf("signed: got %d, want 202", code)
			}
			waitFor(t, "the build of the new commit", func() bool { return fx.b.count() == 1 })
			bs, err := fx.st.Builds(context.Background(), baleen.BuildFilter{Project: "shop-api"})
			if err != nil || len(bs) != 1 || bs[0].Commit != head || bs[0].Branch != "main" || bs[0].Pusher != forge.Pusher {
				t.Fatalf("builds: got %+v (err %v), want one of %s on main", bs, err, head)
			}

			// Replayed: the same delivery again, validly signed.
			fx.commit()
			if code := post(t, url, signed(c.kind, hookSecret, "d-1", body), body); code != http.StatusConflict {
				t.Errorf("replay: got %d, want 409", code)
			}
			// A valid new delivery with nothing new since the last one builds the next commit only once.
			if code := post(t, url, signed(c.kind, hookSecret, "d-2", body), body); code != http.StatusAccepted {
				t.Errorf("second delivery: got %d, want 202", code)
			}
			waitFor(t, "the second build", func() bool { return fx.b.count() == 2 })
			if code := post(t, url, signed(c.kind, hookSecret, "d-3", body), body); code != http.StatusAccepted {
				t.Errorf("third delivery: got %d, want 202", code)
			}
			if err := fx.f.Sync(context.Background(), "shop-api"); err != nil {
				t.Fatal(err)
			}
			if n := fx.b.count(); n != 2 {
				t.Errorf("got %d builds, want 2: an unchanged head is not built again", n)
			}
		})
	}
}

// Pushes to a branch the mirror does not follow, and events other than push, are accepted and ignored.
func TestWebhookIgnoresOtherBranchesAndEvents(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte(hookSecret), 0o600)
	fx := newFixture(t, forge.Mirror{Branches: []string{"release"}, WebhookSecretFile: secretFile})
	body, _ := os.ReadFile("testdata/github-push.json")
	if code := post(t, fx.server.URL+"/hooks/shop-api", signed("github", hookSecret, "x-1", body), body); code != http.StatusAccepted {
		t.Errorf("other branch: got %d, want 202", code)
	}
	h := signed("github", hookSecret, "x-2", []byte(`{"zen":"Keep it logically awesome."}`))
	h.Set("X-GitHub-Event", "ping")
	if code := post(t, fx.server.URL+"/hooks/shop-api", h, []byte(`{"zen":"Keep it logically awesome."}`)); code != http.StatusAccepted {
		t.Errorf("ping: got %d, want 202", code)
	}
	if code := post(t, fx.server.URL+"/hooks/nobody", signed("github", hookSecret, "x-3", body), body); code != http.StatusNotFound {
		t.Errorf("unknown project: got %d, want 404", code)
	}
	if n := fx.b.count(); n != 0 {
		t.Errorf("got %d builds, want 0", n)
	}
}

// mirror add, list and remove keep the added mirrors in a file that a new Follower reads; the config's
// cannot be removed, and URLs are listed without credentials.
func TestMirrorAddListRemove(t *testing.T) {
	file := filepath.Join(t.TempDir(), "mirrors.json")
	cfg := map[string]forge.Mirror{"shop-api": {URL: "https://github.com/acme/shop-api.git", Branches: []string{"main"}}}
	f, err := forge.NewFollower(cfg, file, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Add("billing", "https://user:tok3n@git.example.com/acme/billing.git", nil); !errors.Is(err, baleen.ErrInvalid) || strings.Contains(err.Error(), "tok3n") {
		t.Errorf("URL with a credential: got %v, want ErrInvalid without the credential", err)
	}
	if err := f.Add("billing", "https://git.example.com/acme/billing.git", []string{"main", "next"}); err != nil {
		t.Fatal(err)
	}
	if err := f.Add("billing", "https://git.example.com/x.git", nil); !errors.Is(err, baleen.ErrExists) {
		t.Errorf("second add: got %v, want ErrExists", err)
	}
	if err := f.Add("Bad Name", "https://git.example.com/x.git", nil); !errors.Is(err, baleen.ErrInvalid) {
		t.Errorf("bad name: got %v, want ErrInvalid", err)
	}
	if err := f.Remove("shop-api"); !errors.Is(err, baleen.ErrConflict) {
		t.Errorf("remove of a config mirror: got %v, want ErrConflict", err)
	}
	f2, err := forge.NewFollower(cfg, file, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := f2.WriteList(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"billing", "https://git.example.com/acme/billing.git", "[main next]", "mirror add", "shop-api", "config"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("list lacks %q:\n%s", want, out.String())
		}
	}
	if err := f2.Remove("billing"); err != nil {
		t.Fatal(err)
	}
	if _, err := f2.Mirror("billing"); !errors.Is(err, baleen.ErrNotFound) {
		t.Errorf("after remove: got %v, want ErrNotFound", err)
	}
}

// A delivery replayed after the server restarted (a replay protection kept in memory only would have
// forgotten it) builds nothing, while a new delivery still builds.
func TestReplayAfterRestartBuildsNothing(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte(hookSecret), 0o600)
	fx := newFixture(t, forge.Mirror{Branches: []string{"main"}, WebhookSecretFile: secretFile})
	body, err := os.ReadFile("testdata/github-push.json")
	if err != nil {
		t.Fatal(err)
	}
	if code := post(t, fx.server.URL+"/hooks/shop-api", signed("github", hookSecret, "r-1", body), body); code != http.StatusAccepted {
		t.Fatalf("first delivery: got %d, want 202", code)
	}
	waitFor(t, "the first build", func() bool { return fx.b.count() == 1 })
	fx.stop(t)

	fx.start(t)
	fx.commit() // something new to build, were the replay let through
	if code := post(t, fx.server.URL+"/hooks/shop-api", signed("github", hookSecret, "r-1", body), body); code != http.StatusConflict {
		t.Errorf("replay after restart: got %d, want 409", code)
	}
	// A 409 is answered before any sync could start: nothing was built.
	if n := fx.b.count(); n != 0 {
		t.Errorf("replay after restart: got %d builds, want 0", n)
	}
	if code := post(t, fx.server.URL+"/hooks/shop-api", signed("github", hookSecret, "r-2", body), body); code != http.StatusAccepted {
		t.Errorf("new delivery after restart: got %d, want 202", code)
	}
	waitFor(t, "the build of the new delivery", func() bool { return fx.b.count() == 1 })
}

// zeros is an endless body of zero bytes that counts what was read of it.
type zeros struct{ n atomic.Int64 }

func (z *zeros) Read(p []byte) (int, error) {
	clear(p)
	z.n.Add(int64(len(p)))
	return len(p), nil
}

// A delivery without any forge's signature header is refused before its body is read, so that a stranger
// cannot make the server read and hold 25 MB per request; a signed one over the size limit is refused as
// too large.
func TestUnsignedHookBodyIsNotRead(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte(hookSecret), 0o600)
	fx := newFixture(t, forge.Mirror{Branches: []string{"main"}, WebhookSecretFile: secretFile})
	send := func(h http.Header) (int, int64) {
		z := &zeros{}
		code := postFrom(t, fx.server.URL+"/hooks/shop-api", h, io.LimitReader(z, 40<<20))
		return code, z.n.Load()
	}
	if code, n := send(http.Header{"X-GitHub-Event": {"push"}}); code != http.StatusUnauthorized || n >= 25<<20 {
		t.Errorf("unsigned: got %d after %d bytes sent, want 401 before the body was read", code, n)
	}
	if code, _ := send(signed("github", hookSecret, "big-1", nil)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("signed, too large: got %d, want 413", code)
	}
	if n := fx.b.count(); n != 0 {
		t.Errorf("got %d builds, want 0", n)
	}
}
