package gitd_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/access"
	"github.com/baleen-ci/baleen/gitd"
	"github.com/baleen-ci/baleen/gitd/gittest"
)

// privateHTTPSRepo serves a bare repository with one commit over https, to ci's login only. It returns
// the repository's URL, its head, and a count of the requests that carried a login.
func privateHTTPSRepo(t *testing.T) (src, head string, logins *atomic.Int32) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs git and git http-backend; -short runs without them")
	}
	root := t.TempDir()
	work := filepath.Join(root, "work")
	for _, args := range [][]string{
		{"init", "-q", "-b", "main", work},
		{"-C", work, "commit", "-q", "--allow-empty", "-m", "private"},
		{"clone", "-q", "--bare", work, filepath.Join(root, "private.git")},
	} {
		cmd := exec.Command("git", args...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+root)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	out, err := exec.Command("git", "-C", work, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	base, logins := gittest.HTTPS(t, root, "ci", "s3cret-token")
	return base + "/private.git", strings.TrimSpace(string(out)), logins
}

// scope is the fetch scope of a server config that gives host's login to shop-* and the fetch key to
// shop-api alone.
func scope(t *testing.T, host string) *access.Policy {
	t.Helper()
	c, err := access.Parse("config.yml", []byte("known_hosts: /k\nfetch_key_projects: [shop-api]\ngit_credentials:\n  \""+host+
		"\": {username: ci, password_file: /p, projects: [\"shop-*\"]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	return access.New(access.Options{Config: c})
}

// TestFetchLoginOnlyForItsProjects stops a writer of any project from reading a private https repository
// with the server's login for its host: a fetch made for a project outside the login's projects (or with
// one such project in its chain of dependents) goes without the login, and its failure says so.
func TestFetchLoginOnlyForItsProjects(t *testing.T) {
	src, head, logins := privateHTTPSRepo(t)
	u, _ := url.Parse(src)
	base, err := gitd.NewRepositories(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	repos := base.WithFetch(gitd.FetchConfig{HTTP: map[string]gitd.HTTPCredential{u.Host: {Username: "ci", Password: "s3cret-token"}},
		Scope: scope(t, u.Host)})
	ctx := context.Background()
	if _, got, err := repos.Fetch(ctx, []string{"shop-api"}, "private", src, "main"); err != nil || got != head {
		t.Fatalf("fetch for shop-api, in the login's projects: got %s, %v; want %s", got, err, head)
	}
	if logins.Load() == 0 {
		t.Fatal("the fetch for shop-api sent no login, yet the server asks for one")
	}
	for _, chain := range [][]string{{"lab"}, {"lab", "shop-api"}, {"shop-web", "lab"}, nil} {
		before := logins.Load()
		_, _, err := repos.Fetch(ctx, chain, "private-2", src, "main")
		wantWho := "(none)"
		for _, p := range chain {
			if !strings.HasPrefix(p, "shop-") {
				wantWho = p
				break
			}
		}
		want := "fetched without a login: no login under git_credentials for " + u.Host + " is for project " + wantWho
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("fetch for %v: got %v, want an error containing %q", chain, err, want)
		}
		if strings.Contains(err.Error(), "s3cret-token") {
			t.Errorf("the error shows the password: %v", err)
		}
		if n := logins.Load(); n != before {
			t.Errorf("fetch for %v sent the login %d times", chain, n-before)
		}
	}
}

// TestFetchIgnoresLoginsInTheServersHome stops a login kept in the server user's home (an extraHeader in
// ~/.gitconfig, a ~/.netrc entry) from reaching a fetch made for a project outside git_credentials' scope.
func TestFetchIgnoresLoginsInTheServersHome(t *testing.T) {
	src, _, logins := privateHTTPSRepo(t)
	u, _ := url.Parse(src)
	home := t.TempDir()
	t.Setenv("HOME", home)
	header := "[http \"https://" + u.Host + "/\"]\n\textraHeader = Authorization: Basic Y2k6czNjcmV0LXRva2Vu\n" // ci:s3cret-token
	netrc := "machine " + u.Hostname() + " login ci password s3cret-token\n"
	for name, text := range map[string]string{".gitconfig": header, ".netrc": netrc} {
		if err := os.WriteFile(filepath.Join(home, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	base, err := gitd.NewRepositories(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	repos := base.WithFetch(gitd.FetchConfig{Scope: scope(t, u.Host)})
	if _, _, err := repos.Fetch(context.Background(), []string{"lab"}, "private", src, "main"); err == nil {
		t.Error("the fetch for lab read the private repository")
	}
	if n := logins.Load(); n != 0 {
		t.Errorf("the fetch for lab sent a login from the server user's home %d times", n)
	}
}

// TestFetchKeyOnlyForItsProjects stops a writer of any project from reading what the server's deploy key
// reaches: an ssh source is refused, before anything connects, unless every project the fetch is made
// for is under fetch_key_projects, and the refusal names the project and the setting.
func TestFetchKeyOnlyForItsProjects(t *testing.T) {
	base, err := gitd.NewRepositories(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	known := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(known, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	repos := base.WithFetch(gitd.FetchConfig{KeyPath: filepath.Join(t.TempDir(), "key"), KnownHostsPath: known, Scope: scope(t, "h")})
	for _, src := range []string{"ssh://git@127.0.0.1:1/x.git", "git@127.0.0.1:x.git"} {
		for _, chain := range [][]string{{"lab"}, {"shop-api", "shop-web"}} {
			_, _, err := repos.Fetch(context.Background(), chain, "x", src, "main")
			want := "which project " + chain[len(chain)-1] + " may not use: the server's config lists the projects that may under fetch_key_projects"
			if !errors.Is(err, baleen.ErrUnauthorized) || !strings.Contains(err.Error(), want) {
				t.Errorf("fetch of %s for %v: got %v, want ErrUnauthorized containing %q", src, chain, err, want)
			}
			if got := repos.MayFetch(chain, src); got == nil || got.Error() != err.Error() {
				t.Errorf("MayFetch(%v, %s): got %v, want %v", chain, src, got, err)
			}
		}
		// In scope, the fetch goes on to connect (to a port where nothing listens).
		_, _, err := repos.Fetch(context.Background(), []string{"shop-api"}, "x", src, "main")
		if err == nil || strings.Contains(err.Error(), "fetch_key_projects") {
			t.Errorf("fetch of %s for shop-api: got %v, want a failure to connect", src, err)
		}
		if err := repos.MayFetch([]string{"shop-api"}, src); err != nil {
			t.Errorf("MayFetch(shop-api, %s): got %v, want nil", src, err)
		}
	}
}
