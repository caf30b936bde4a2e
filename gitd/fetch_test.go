package gitd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
)

func TestFetchAndContains(t *testing.T) {
	ctx := context.Background()
	upstream := t.TempDir()
	gitRun(t, upstream, "init", "-q", "-b", "trunk")
	os.WriteFile(filepath.Join(upstream, "a"), []byte("1"), 0o644)
	gitRun(t, upstream, "add", "-A")
	gitRun(t, upstream, "commit", "-q", "-m", "one")
	first := gitRun(t, upstream, "rev-parse", "HEAD")
	os.WriteFile(filepath.Join(upstream, "a"), []byte("2"), 0o644)
	gitRun(t, upstream, "commit", "-q", "-am", "two")
	second := gitRun(t, upstream, "rev-parse", "HEAD")
	gitRun(t, upstream, "checkout", "-q", "-b", "side", first)
	os.WriteFile(filepath.Join(upstream, "b"), []byte("side"), 0o644)
	gitRun(t, upstream, "add", "-A")
	gitRun(t, upstream, "commit", "-q", "-m", "side")
	side := gitRun(t, upstream, "rev-parse", "HEAD")
	gitRun(t, upstream, "checkout", "-q", "trunk")

	base, _ := NewRepositories(t.TempDir())
	repos := base.WithFetch(FetchConfig{KeyPath: filepath.Join(t.TempDir(), "key")})
	for _, src := range []string{upstream, "file://" + upstream} {
		branch, head, err := repos.Fetch(ctx, nil, "users", src, "")
		if err != nil || branch != "trunk" || head != second {
			t.Errorf("Fetch(%s, default branch) = %s %s %v; want trunk %s", src, branch, head, err, second)
		}
	}
	if _, head, err := repos.Fetch(ctx, nil, "users", upstream, "side"); err != nil || head != side {
		t.Errorf("Fetch(side) = %s %v; want %s", head, err, side)
	}
	if _, _, err := repos.Fetch(ctx, nil, "users", upstream, "nosuch"); !errors.Is(err, baleen.ErrNotFound) {
		t.Errorf("Fetch(nosuch): got %v, want ErrNotFound", err)
	}
	if _, _, err := repos.Fetch(ctx, nil, "users", filepath.Join(t.TempDir(), "missing"), ""); err == nil {
		t.Error("Fetch of a missing source: got nil error")
	}
	if _, _, err := repos.Fetch(ctx, nil, "../evil", upstream, ""); !errors.Is(err, baleen.ErrInvalid) {
		t.Errorf("Fetch into ../evil: got %v, want ErrInvalid", err)
	}
	if _, _, err := repos.Fetch(ctx, nil, "users", "ssh://git@127.0.0.1:1/x.git", ""); !errors.Is(err, baleen.ErrInvalid) {
		t.Errorf("ssh fetch without known_hosts: got %v, want ErrInvalid", err)
	}
	// The fetched repository is one real git reads.
	if got := gitRun(t, filepath.Join(repos.dir, "users.git"), "rev-parse", "refs/heads/trunk"); got != second {
		t.Errorf("git rev-parse trunk = %s, want %s", got, second)
	}

	tests := []struct {
		name, commit, rev string
		want              bool
	}{
		{"itself", second, second, true},
		{"abbreviated ancestor", second, first[:7], true},
		{"not an ancestor", second, side[:9], false},
		{"unknown", second, "deadbeef", false},
		{"descendant is not contained", first, second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			full, ok, err := repos.Contains(ctx, "users", tt.commit, tt.rev)
			if err != nil || ok != tt.want {
				t.Errorf("Contains(%s) = %s %v %v; want %v", tt.rev, full, ok, err, tt.want)
			}
			if ok && !strings.HasPrefix(full, tt.rev) {
				t.Errorf("Contains(%s) resolved to %s", tt.rev, full)
			}
		})
	}
	key, err := repos.DeployKey()
	if err != nil || !strings.HasPrefix(key, "ssh-ed25519 ") {
		t.Errorf("DeployKey = %q, %v; want an ssh-ed25519 public key", key, err)
	}
	again, _ := repos.DeployKey()
	if again != key {
		t.Errorf("DeployKey changed between calls: %q then %q", key, again)
	}
}

// TestFetchRefusesSources stops a pusher from turning a dependency's src into an option, a second argument,
// a path relative to the server's working directory, an unencrypted git:// fetch or a transport helper
// that runs commands (ext::).
func TestFetchRefusesSources(t *testing.T) {
	base, _ := NewRepositories(t.TempDir())
	repos := base.WithFetch(FetchConfig{KeyPath: filepath.Join(t.TempDir(), "key")})
	for _, src := range []string{
		"users", "sub/dir", "/tmp/a b", "https://example.com/x\n--upload-pack=evil", "-uevil", "--upload-pack=touch /tmp/x",
		"git://127.0.0.1/x.git", "ext::sh -c touch% /tmp/pwned", "fd::3",
	} {
		if _, _, err := repos.Fetch(context.Background(), nil, "users", src, "main"); !errors.Is(err, baleen.ErrInvalid) {
			t.Errorf("Fetch(%q): got %v, want ErrInvalid", src, err)
		}
	}
}
