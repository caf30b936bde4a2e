package commands

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/gitd"
)

// commitFile makes a repository for project under dir, as the server keeps it, with one commit holding
// name with content; it returns the commit.
func commitFile(t *testing.T, dir, project, name, content string) string {
	t.Helper()
	repo := filepath.Join(dir, project+".git")
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	git("init", "-q")
	if err := os.WriteFile(filepath.Join(repo, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", name)
	git("commit", "-q", "-m", "one")
	return git("rev-parse", "HEAD")
}

func TestReleaseUnits(t *testing.T) {
	dir := t.TempDir()
	repos, err := gitd.NewRepositories(dir)
	if err != nil {
		t.Fatal(err)
	}
	yml := "build:\n  api: .\ndeploy:\n  target: prod\n  units:\n    web:\n      image: api\n    worker:\n      image: api\n"
	rel := baleen.Release{Number: 3, Commit: commitFile(t, dir, "api", "baleen.yml", yml)}
	units, err := ReleaseUnits(t.Context(), repos, "api", rel)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(units, []string{"web", "worker"}) {
		t.Errorf("units: got %q, want web and worker", units)
	}

	none := baleen.Release{Number: 4, Commit: commitFile(t, dir, "lib", "baleen.yml", "build:\n  api: .\n")}
	if _, err := ReleaseUnits(t.Context(), repos, "lib", none); !errors.Is(err, baleen.ErrNotFound) || !strings.Contains(err.Error(), "release #4 deploys no units") {
		t.Errorf("no deploy section: got %v, want ErrNotFound naming release #4", err)
	}
	missing := baleen.Release{Number: 5, Commit: commitFile(t, dir, "bare", "README", "x\n")}
	if _, err := ReleaseUnits(t.Context(), repos, "bare", missing); err == nil || !strings.Contains(err.Error(), "release #5") {
		t.Errorf("no baleen.yml: got %v, want an error naming release #5", err)
	}
}
