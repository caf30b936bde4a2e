package pipeline_test

import (
	"crypto/rand"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/pipeline/docker/registrytest"
	"github.com/baleen-ci/baleen/pipeline/spec"
)

// pushProject builds and pushes image pt-regapp as project on the registry at addr, with push.repositories
// when repos is not empty, and returns what the build pushed.
func pushProject(t *testing.T, addr, project, repos string) []baleen.PushedImage {
	t.Helper()
	yml := "build:\n  pt-regapp: .\ntest:\n  command: [\"true\"]\npush:\n  registry: " + addr + "\n  tags: [latest]\n" + repos
	f := newFixture(t, map[string]string{
		"Dockerfile": appDockerfile,
		"whose":      project + "\n", // each project's image differs
		"baleen.yml": yml,
	})
	s, err := spec.Parse("baleen.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	res, err := pipeline.New(f.engine, nil).Run(t.Context(), pipeline.Run{
		ID: f.id, Spec: s, Source: f.files, ArtifactsDir: f.artifacts, Out: &f.out,
		Project: project, Commit: "3f2a9c1d4e5f60718293a4b5c6d7e8f901234567", Branch: "main", Number: 1,
		Registry: &pipeline.Registry{Images: f.engine},
	})
	if err != nil || res.Status != baleen.StatusPassed {
		t.Fatalf("build of %s: got %s (%s), %v; want passed\n%s", project, res.Status, res.Message, err, f.out.String())
	}
	for _, p := range res.Pushed {
		repo := strings.TrimPrefix(p.Ref[:strings.LastIndex(p.Ref, ":")], addr+"/")
		t.Cleanup(func() { registrytest.Delete(t, addr, repo, p.Digest) })
	}
	return res.Pushed
}

// TestPushNamespacedByProject stops two projects that push an image of the same name from overwriting
// each other's tags in the registry: by default each pushes to <registry>/<project>/<image>, so both keep
// their own latest. An explicit push.repositories still names the repository outright.
func TestPushNamespacedByProject(t *testing.T) {
	addr := registrytest.Anonymous(t)
	suffix := strings.ToLower(rand.Text()[:8])
	a, b := "reg-a-"+suffix, "reg-b-"+suffix
	pushedA := pushProject(t, addr, a, "")
	pushedB := pushProject(t, addr, b, "")
	for _, c := range []struct {
		project string
		pushed  []baleen.PushedImage
	}{{a, pushedA}, {b, pushedB}} {
		repo := c.project + "/pt-regapp"
		if len(c.pushed) != 1 || c.pushed[0].Ref != addr+"/"+repo+":latest" || c.pushed[0].Image != "pt-regapp" {
			t.Fatalf("%s pushed %+v, want %s/%s:latest of image pt-regapp", c.project, c.pushed, addr, repo)
		}
		if got := registrytest.Digest(t, addr, repo, "latest"); got != c.pushed[0].Digest {
			t.Errorf("%s:latest in the registry: got %s, want %s, which %s pushed", repo, got, c.pushed[0].Digest, c.project)
		}
	}
	if pushedA[0].Digest == pushedB[0].Digest {
		t.Fatalf("both projects pushed %s: the images were meant to differ", pushedA[0].Digest)
	}

	// An explicit repository.
	legacy := "legacy-" + suffix + "/regapp"
	pushed := pushProject(t, addr, a, "  repositories: {pt-regapp: "+legacy+"}\n")
	if len(pushed) != 1 || pushed[0].Ref != addr+"/"+legacy+":latest" {
		t.Fatalf("with push.repositories: pushed %+v, want %s/%s:latest", pushed, addr, legacy)
	}
	if got := registrytest.Tags(t, addr, legacy); len(got) != 1 || got[0] != "latest" {
		t.Errorf("tags of %s: got %v, want [latest]", legacy, got)
	}
}
