package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/pipeline/enginetest"
)

// localDeps is `baleen build`'s dependency builder on the scripted engine and in-memory repositories.
func localDeps(t *testing.T, eng *enginetest.Engine, repos *enginetest.Repos) *pipeline.LocalDependencies {
	t.Helper()
	var n atomic.Int64
	return &pipeline.LocalDependencies{Pipeline: pipeline.New(eng, nil), Images: eng, Repos: repos, ArtifactsDir: t.TempDir(),
		Credential: func(string) string { return "" },
		NewID: func() (baleen.BuildID, error) {
			return baleen.BuildID(fmt.Sprintf("local-%08x", n.Add(1))), nil
		}}
}

// TestLocalDependencyBuiltThenReused: `baleen build` builds a dependency through the pipeline, tags its
// green images by commit, and reuses them at the next build of the same commit without building again.
func TestLocalDependencyBuiltThenReused(t *testing.T) {
	eng, repos := enginetest.New(), enginetest.NewRepos()
	commit := strings.Repeat("ab", 20)
	repos.Commit("users", "main", commit, map[string]string{"baleen.yml": "build:\n  users: .\ntest:\n  command: [\"./test.sh\"]\n",
		"Dockerfile": "FROM scratch\n", "test.sh": "true\n"})
	build := localDeps(t, eng, repos).Build()
	target := pipeline.DependencyTarget{Name: "u", Project: "users", Branch: "main", Commit: commit, Chain: []string{"app", "users"}}
	var out strings.Builder
	res, err := build(context.Background(), target, &out)
	if err != nil {
		t.Fatalf("first build: %v\n%s", err, out.String())
	}
	want := "users:baleen-dep-users-" + commit[:12]
	if res.Reused || res.Images["users"] != want {
		t.Errorf("first build: got reused %v, images %v; want built, users as %s", res.Reused, res.Images, want)
	}
	if ok, _ := eng.ImageExists(context.Background(), want); !ok {
		t.Errorf("the green dependency was not tagged %s", want)
	}
	for _, w := range []string{"--- u: building users main at " + commit[:12], "users | ==> test", "users | PASSED"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("first build's output lacks %q:\n%s", w, out.String())
		}
	}
	builds := strings.Count(strings.Join(eng.Calls(), "\n"), "BuildImage users")
	out.Reset()
	res, err = build(context.Background(), target, &out)
	if err != nil || !res.Reused || res.Images["users"] != want {
		t.Fatalf("second build: got %+v, %v; want users reused as %s\n%s", res, err, want, out.String())
	}
	if got := strings.Count(strings.Join(eng.Calls(), "\n"), "BuildImage users"); got != builds {
		t.Errorf("image builds: got %d after the reuse, want %d", got, builds)
	}
	if !strings.Contains(out.String(), "u: reusing the images of users at "+commit[:12]) {
		t.Errorf("second build's output lacks the reuse:\n%s", out.String())
	}
}

// TestLocalDependencyFailureNotTagged: a dependency whose tests fail is an error naming it, and its images
// get no per-commit tag, so that no later build takes it for green.
func TestLocalDependencyFailureNotTagged(t *testing.T) {
	eng, repos := enginetest.New(), enginetest.NewRepos()
	eng.Test = func(_ context.Context, _ baleen.BuildID, _ baleen.ContainerSpec, out io.Writer) (int, error) {
		fmt.Fprintln(out, "1 test failed")
		return 1, nil
	}
	commit := strings.Repeat("cd", 20)
	repos.Commit("users", "main", commit, map[string]string{"baleen.yml": "build:\n  users: .\ntest:\n  command: [\"./test.sh\"]\n",
		"Dockerfile": "FROM scratch\n", "test.sh": "false\n"})
	target := pipeline.DependencyTarget{Name: "u", Project: "users", Branch: "main", Commit: commit, Chain: []string{"app", "users"}}
	var out strings.Builder
	_, err := localDeps(t, eng, repos).Build()(context.Background(), target, &out)
	if err == nil || !strings.Contains(err.Error(), "the build of users at "+commit[:12]+" failed") {
		t.Errorf("got %v, want the failed build of users named", err)
	}
	if ok, _ := eng.ImageExists(context.Background(), "users:baleen-dep-users-"+commit[:12]); ok {
		t.Error("a failed dependency got its per-commit tag")
	}
}
