package pipeline

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/gitd"
)

// gitRepo makes a repository with one commit on main at dir, with the git CLI, and returns the commit.
func gitRepo(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "baleen.yml"), []byte("build: {app: .}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."},
		{"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "one"}} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestLocalSourcesNoExistenceOracle stops a pusher from probing the server's file system through a
// dependency's src: a path outside local_sources that exists, one that does not, one inside that does not,
// one inside that is no repository, and escapes through a link, "..", or a file:// URL with a host, all get
// the same words. Only a repository under local_sources is fetched, and none at all without local_sources.
func TestLocalSourcesNoExistenceOracle(t *testing.T) {
	base := t.TempDir()
	allowed, outside := filepath.Join(base, "allowed"), filepath.Join(base, "outside")
	head := gitRepo(t, filepath.Join(allowed, "users"))
	gitRepo(t, filepath.Join(outside, "secret"))
	if err := os.MkdirAll(filepath.Join(allowed, "plain"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(allowed, "link")); err != nil {
		t.Fatal(err)
	}
	repos, err := gitd.NewRepositories(filepath.Join(base, "data"))
	if err != nil {
		t.Fatal(err)
	}
	l := localSources{DependencyRepos: repos, roots: []string{allowed}}

	refusals := map[string]string{
		"outside, exists":          filepath.Join(outside, "secret"),
		"outside, missing":         filepath.Join(outside, "nothing"),
		"outside, a file":          filepath.Join(outside, "secret", "baleen.yml"),
		"inside, missing":          filepath.Join(allowed, "nothing"),
		"inside, not a repository": filepath.Join(allowed, "plain"),
		"a link out":               filepath.Join(allowed, "link"),
		"dot-dot out":              allowed + "/../outside/secret",
		"file URL outside":         "file://" + filepath.Join(outside, "secret"),
		"file URL with a host":     "file://example.com" + filepath.Join(allowed, "users"),
		"file URL escaped":         "file://" + filepath.Join(allowed, "%75sers"),
	}
	var first string
	for name, src := range refusals {
		t.Run(name, func(t *testing.T) {
			_, _, err := l.Fetch(t.Context(), nil, "dep", src, "main")
			if err == nil {
				t.Fatalf("Fetch %s: got no error, want it refused", src)
			}
			if !errors.Is(err, baleen.ErrNotFound) {
				t.Errorf("Fetch %s: got %v, want it to wrap ErrNotFound", src, err)
			}
			msg := strings.ReplaceAll(err.Error(), src, "SRC")
			if strings.Contains(msg, base) {
				t.Errorf("Fetch %s: the refusal names a path of the server: %s", src, msg)
			}
			if first == "" {
				first = msg
			} else if msg != first {
				t.Errorf("Fetch %s: got %q, want the same words as every refusal: %q", src, msg, first)
			}
		})
	}

	for _, src := range []string{filepath.Join(allowed, "users"), "file://" + filepath.Join(allowed, "users")} {
		branch, commit, err := l.Fetch(t.Context(), nil, "dep", src, "main")
		if err != nil || branch != "main" || commit != head {
			t.Errorf("Fetch %s under local_sources: got %s %s, %v; want main %s", src, branch, commit, err, head)
		}
	}
	_, _, err = localSources{DependencyRepos: repos}.Fetch(t.Context(), nil, "dep2", filepath.Join(allowed, "users"), "main")
	if err == nil || strings.ReplaceAll(err.Error(), filepath.Join(allowed, "users"), "SRC") != first {
		t.Errorf("Fetch without local_sources: got %v, want the refusal %q", err, first)
	}
}
