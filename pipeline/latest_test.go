package pipeline_test

import (
	"testing"

	"github.com/moby/moby/client"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/pipeline/spec"
)

// TestTwoProjectsKeepTwoLatestImages stops one project's green build from replacing another project's
// latest image of the same name on a shared engine: the latest tag is namespaced by project.
func TestTwoProjectsKeepTwoLatestImages(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Docker")
	}
	ids := map[string]string{}
	for _, project := range []string{"lt-one", "lt-two"} {
		f := newFixture(t, map[string]string{
			"Dockerfile": "FROM {{busybox}}\nLABEL made.by=" + project + "\n",
			"baleen.yml": "build: {lt-app: .}\ntest:\n  command: [\"true\"]\n",
		})
		parsed, err := spec.ParseFile("baleen.yml", f.files["baleen.yml"].Data)
		if err != nil {
			t.Fatal(err)
		}
		res, err := pipeline.New(f.engine, nil).Run(t.Context(), pipeline.Run{
			ID: f.id, Project: project, Spec: parsed.Spec, Source: f.files, ArtifactsDir: f.artifacts, Out: &f.out,
		})
		if err != nil || res.Status != baleen.StatusPassed {
			t.Fatalf("%s: %v %s (%s)\n%s", project, err, res.Status, res.Message, f.out.String())
		}
		ref := baleen.LatestTag(project, "lt-app")
		t.Cleanup(func() {
			_, _ = f.engine.Client().ImageRemove(t.Context(), ref, client.ImageRemoveOptions{})
		})
		img, err := f.engine.Client().ImageInspect(t.Context(), ref)
		if err != nil {
			t.Fatalf("%s after a green build: %v", ref, err)
		}
		ids[project] = img.ID
	}
	if ids["lt-one"] == ids["lt-two"] {
		t.Fatalf("both latest tags name one image %s", ids["lt-one"])
	}
	for project, id := range ids {
		img, err := newFixture(t, nil).engine.Client().ImageInspect(t.Context(), baleen.LatestTag(project, "lt-app"))
		if err != nil || img.ID != id || img.Config.Labels["made.by"] != project {
			t.Errorf("%s: latest is %v (%v), want its own image %s", project, img.ID, err, id)
		}
	}
}
