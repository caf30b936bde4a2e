package pipeline_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline"
)

// zeroID is git's id of no commit: the old value of a ref update that creates the ref.
const zeroID = "0000000000000000000000000000000000000000"

// imagesPresent reports whether every image of b is still in the engine.
func (sv *server) imagesPresent(b baleen.Build) bool {
	sv.t.Helper()
	if len(b.Images) == 0 {
		sv.t.Fatalf("build #%d made no images", b.Number)
	}
	for _, ref := range b.Images {
		if ok, _ := sv.eng.ImageExists(context.Background(), ref); !ok {
			return false
		}
	}
	return true
}

// TestHeldBuildPrunesOnlyWhenSettled: a push's build (HoldImages) prunes nothing when it ends, and no other
// build's pruning takes its images, until the push has moved its branch and settles it. Pruning at the end
// of the build, before the ref moves, is what let a crash in between lose the images the branch needed.
func TestHeldBuildPrunesOnlyWhenSettled(t *testing.T) {
	sv := newServer(t, func(c *pipeline.SchedulerConfig) { c.KeepGreen = 1 })
	sv.commit("web", "c1", appSpec)
	sv.commit("web", "c2", appSpec)
	sv.commit("web", "c3", appSpec)
	first := sv.run("web", "c1", io.Discard)

	pushed, err := sv.s.Run(t.Context(), pipeline.Request{Project: "web", Branch: "main", Commit: "c2", Pusher: "test", HoldImages: true})
	if err != nil || pushed.Status != baleen.StatusPassed {
		t.Fatalf("held build: got %s (%s), %v; want passed", pushed.Status, pushed.Message, err)
	}
	if !sv.imagesPresent(first) {
		t.Errorf("build #%d's images were pruned when held build #%d ended, before its push settled it", first.Number, pushed.Number)
	}
	// Another build (a rebuild, another branch) prunes as it ends: the held build keeps its images even
	// though it is no longer among the KeepGreen latest.
	other, err := sv.s.Run(t.Context(), pipeline.Request{Project: "web", Branch: "dev", Commit: "c3", Pusher: "test"})
	if err != nil || other.Status != baleen.StatusPassed {
		t.Fatalf("other build: got %s, %v; want passed", other.Status, err)
	}
	if sv.imagesPresent(first) {
		t.Errorf("build #%d's images survived a prune with KeepGreen 1", first.Number)
	}
	if !sv.imagesPresent(pushed) {
		t.Errorf("held build #%d lost its images to another build's pruning before it was settled", pushed.Number)
	}

	sv.s.Settle(t.Context(), "web", pushed.Number)
	if sv.imagesPresent(pushed) {
		t.Errorf("build #%d's images are still there once settled, with KeepGreen 1 and a newer green build", pushed.Number)
	}
	if !sv.imagesPresent(other) {
		t.Errorf("the latest green build #%d lost its images", other.Number)
	}
}

// TestReleaseGate: a push's build checks, just before its release stages, that the branch still holds the
// push's old value. A branch that moved meanwhile gets no latest tag and no deploy, and the build ends
// cancelled saying where the branch went; a branch still in place releases as usual.
func TestReleaseGate(t *testing.T) {
	tests := []struct {
		name    string
		old     string // the branch before the push, and the push's old value
		moveTo  string // where another writer moves the branch while the build runs; "" leaves it
		want    baleen.Status
		message string
	}{
		{"branch in place", "c0", "", baleen.StatusPassed, ""},
		{"branch created by the push", zeroID, "", baleen.StatusPassed, ""},
		{"branch moved", "c0", "c9", baleen.StatusCancelled, "main moved to c9 while this build waited; not releasing"},
		{"branch created meanwhile", zeroID, "c9", baleen.StatusCancelled, "main moved to c9 while this build waited; not releasing"},
		{"branch deleted", "c0", zeroID, baleen.StatusCancelled, "main moved to nothing (deleted) while this build waited; not releasing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &fakeDeployer{}
			sv := newDeployServer(t, d)
			sv.commit("web", "c1", deploySpec)
			sv.setBranch("main", tt.old)
			g := newGate()
			sv.eng.Test = g.test
			var out syncBuffer
			ch := make(chan baleen.Build, 1)
			go func() {
				b, err := sv.s.Run(context.Background(), pipeline.Request{Project: "web", Branch: "main", Commit: "c1", Pusher: "test",
					Out: &out, Old: tt.old})
				if err != nil {
					b.Message = err.Error()
				}
				ch <- b
			}()
			g.waitStarted(t)
			if tt.moveTo != "" {
				sv.setBranch("main", tt.moveTo)
			}
			close(g.open)
			b := wait(t, ch)
			if b.Status != tt.want || b.Message != tt.message {
				t.Fatalf("build: got %s %q, want %s %q\n%s", b.Status, b.Message, tt.want, tt.message, out.String())
			}
			latest, _ := sv.eng.ImageExists(t.Context(), baleen.LatestTag("web", "app"))
			d.mu.Lock()
			deployed := len(d.releases)
			d.mu.Unlock()
			if tt.want == baleen.StatusPassed {
				if !latest || deployed != 1 {
					t.Errorf("released build: latest tag %v, %d deploys; want the tag and 1 deploy\n%s", latest, deployed, out.String())
				}
				return
			}
			if latest || deployed != 0 {
				t.Errorf("build of a moved branch: latest tag %v, %d deploys; want neither\n%s", latest, deployed, out.String())
			}
			if !strings.Contains(out.String(), tt.message) {
				t.Errorf("output does not say why it did not release:\n%s", out.String())
			}
			rec, err := sv.st.Build(t.Context(), "web", b.Number)
			if err != nil || rec.Status != baleen.StatusCancelled || rec.FailedStage != baleen.StageTag || rec.Message != tt.message {
				t.Errorf("record: got %s at %s %q, %v; want cancelled at tag with the reason", rec.Status, rec.FailedStage, rec.Message, err)
			}
		})
	}
}

// setBranch points refs/heads/branch of web at commit, or deletes it for the zero id.
func (sv *server) setBranch(branch, commit string) {
	sv.t.Helper()
	if commit == zeroID {
		sv.repos.DeleteRef("web", "refs/heads/"+branch)
		return
	}
	if err := sv.repos.SetRef(context.Background(), "web", "refs/heads/"+branch, commit); err != nil {
		sv.t.Fatal(err)
	}
}
