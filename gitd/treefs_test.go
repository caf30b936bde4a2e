package gitd

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/baleen-ci/baleen"
)

// gitRun runs the real git CLI in dir.
func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the git CLI; -short runs without it")
	}
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// pushedRepo makes a work tree with files, commits it, and clones it bare as <reposDir>/<project>.git.
func pushedRepo(t *testing.T, reposDir, project string, files map[string]string, links map[string]string) string {
	t.Helper()
	work := t.TempDir()
	gitRun(t, work, "init", "-q", "-b", "main")
	for name, body := range files {
		p := filepath.Join(work, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(work, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	gitRun(t, work, "add", "-A")
	gitRun(t, work, "commit", "-q", "-m", "c")
	commit := gitRun(t, work, "rev-parse", "HEAD")
	gitRun(t, reposDir, "clone", "-q", "--bare", work, project+".git")
	return commit
}

func TestRepositoriesTree(t *testing.T) {
	dir := t.TempDir()
	commit := pushedRepo(t, dir, "api", map[string]string{
		"baleen.yml":      "build: {api: .}\n",
		"Dockerfile":      "FROM scratch\n",
		"run_tests.sh":    "#!/bin/sh\nexit 0\n",
		"db/schema.sql":   "create table t();\n",
		"db/deep/x/y.txt": "deep",
	}, map[string]string{
		"link.txt": "db/schema.sql",
		"dblink":   "db",
	})
	repos, err := NewRepositories(dir)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := repos.Tree(context.Background(), "api", commit)
	if err != nil {
		t.Fatal(err)
	}
	// fstest checks the whole fs.FS contract: Open, ReadDir, Stat and the files' contents agree.
	if err := fstest.TestFS(tree, "baleen.yml", "Dockerfile", "run_tests.sh", "db/schema.sql", "db/deep/x/y.txt", "link.txt"); err != nil {
		t.Fatal(err)
	}
	if b, err := fs.ReadFile(tree, "dblink/deep/x/y.txt"); err != nil || string(b) != "deep" {
		t.Errorf("dblink/deep/x/y.txt = %q, %v; want the file through the linked directory", b, err)
	}
	if b, err := fs.ReadFile(tree, "link.txt"); err != nil || string(b) != "create table t();\n" {
		t.Errorf("link.txt = %q, %v; want the schema through the link", b, err)
	}
	fi, err := fs.Stat(tree, "run_tests.sh")
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("run_tests.sh mode = %v, %v; want 0755", fi.Mode(), err)
	}
	if li, err := tree.(fs.ReadLinkFS).Lstat("link.txt"); err != nil || li.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("Lstat(link.txt) mode = %v, %v; want a symlink", li.Mode(), err)
	}
	if _, err := repos.Tree(context.Background(), "nope", commit); !errors.Is(err, baleen.ErrNotFound) {
		t.Errorf("Tree of a missing project: got %v, want ErrNotFound", err)
	}
	if _, err := repos.Tree(context.Background(), "../x", commit); !errors.Is(err, baleen.ErrInvalid) {
		t.Errorf("Tree of ../x: got %v, want ErrInvalid", err)
	}
}

// TestTreeLinksStayInTree stops a pushed symbolic link from reading the server's own files when a build
// context is read from the object store.
func TestTreeLinksStayInTree(t *testing.T) {
	dir := t.TempDir()
	commit := pushedRepo(t, dir, "evil", map[string]string{"a": "a"}, map[string]string{
		"escape.txt": "../../etc/passwd",
		"abs.txt":    "/etc/passwd",
		"loop":       "loop",
	})
	repos, _ := NewRepositories(dir)
	tree, err := repos.Tree(context.Background(), "evil", commit)
	if err != nil {
		t.Fatal(err)
	}
	lfs := tree.(fs.ReadLinkFS)
	if target, err := lfs.ReadLink("escape.txt"); err != nil || target != "../../etc/passwd" {
		t.Errorf("ReadLink(escape.txt) = %q, %v; want the link's own text", target, err)
	}
	// A pushed link must never lead outside the tree: that would read the server's own files.
	for _, name := range []string{"escape.txt", "abs.txt", "loop"} {
		if _, err := fs.ReadFile(tree, name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadFile(%s): got %v, want fs.ErrNotExist", name, err)
		}
	}
}

func TestRepositoriesResolveAndSetRef(t *testing.T) {
	dir := t.TempDir()
	commit := pushedRepo(t, dir, "api", map[string]string{"a": "a"}, nil)
	repos, _ := NewRepositories(dir)
	ctx := context.Background()
	for _, rev := range []string{"main", "refs/heads/main", commit[:7], commit} {
		if got, err := repos.Resolve(ctx, "api", rev); err != nil || got != commit {
			t.Errorf("Resolve(%s) = %s, %v; want %s", rev, got, err, commit)
		}
	}
	if _, err := repos.Resolve(ctx, "api", "nosuchbranch"); !errors.Is(err, baleen.ErrNotFound) {
		t.Errorf("Resolve(nosuchbranch): got %v, want ErrNotFound", err)
	}
	if err := repos.SetRef(ctx, "api", "refs/baleen/builds/1", commit); err != nil {
		t.Fatal(err)
	}
	// The real git sees the ref.
	if got := gitRun(t, filepath.Join(dir, "api.git"), "rev-parse", "refs/baleen/builds/1"); got != commit {
		t.Errorf("git rev-parse refs/baleen/builds/1 = %s, want %s", got, commit)
	}
}
