package retention_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/enginetest"
	"github.com/baleen-ci/baleen/pipeline/retention"
	"github.com/baleen-ci/baleen/store"
)

const instance = "abcd0123"

// TestPrune makes builds of app with the statuses given (#1 first), an image for each, and checks which
// survive a prune. Images of another project and of another server are never touched.
func TestPrune(t *testing.T) {
	tests := []struct {
		name     string
		statuses []baleen.Status
		keep     int
		held     []int
		released []int
		want     []int
	}{
		{name: "latest green kept", statuses: []baleen.Status{"passed", "passed", "passed"}, keep: 2, want: []int{2, 3}},
		{name: "failed builds go", statuses: []baleen.Status{"passed", "failed", "passed"}, keep: 1, want: []int{3}},
		{name: "running builds stay", statuses: []baleen.Status{"passed", "running", "passed"}, keep: 1, want: []int{2, 3}},
		{name: "images in use stay", statuses: []baleen.Status{"passed", "passed", "passed"}, keep: 1, held: []int{1}, want: []int{1, 3}},
		{name: "released builds stay", statuses: []baleen.Status{"passed", "passed", "passed"}, keep: 1, released: []int{1}, want: []int{1, 3}},
		{name: "negative keeps all", statuses: []baleen.Status{"passed", "failed"}, keep: -1, want: []int{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			st, err := store.Open(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			eng := enginetest.New()
			for _, p := range []string{"app", "other"} {
				if err := st.CreateProject(ctx, baleen.Project{Name: p, Created: time.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			for _, status := range tt.statuses {
				b, err := st.CreateBuild(ctx, baleen.Build{Project: "app", Commit: "c", Created: time.Now()})
				if err != nil {
					t.Fatal(err)
				}
				s := status
				if _, err := st.UpdateBuild(ctx, "app", b.Number, baleen.BuildPatch{Status: &s}); err != nil {
					t.Fatal(err)
				}
				id := b.ID(instance)
				eng.AddImage(id.ImageTag("app"), map[string]string{baleen.LabelBuild: string(id)})
				// A retry of the build on another engine: its images go and stay with the build's.
				retry := baleen.BuildID(fmt.Sprintf("app-%d-r1-%s", b.Number, instance))
				eng.AddImage(retry.ImageTag("app"), map[string]string{baleen.LabelBuild: string(retry)})
			}
			eng.AddImage("app:latest", map[string]string{baleen.LabelBuild: "app-1-" + instance})
			eng.AddImage("other:x", map[string]string{baleen.LabelBuild: "other-1-" + instance})
			eng.AddImage("app:theirs", map[string]string{baleen.LabelBuild: "app-1-ffff0000"})
			holds := retention.NewHolds()
			for _, n := range tt.held {
				holds.Hold((&baleen.Build{Project: "app", Number: n}).ID(instance))
			}
			for _, n := range tt.released {
				if _, err := st.CreateRelease(ctx, baleen.Release{Project: "app", Build: n, Status: baleen.StatusPassed, Started: time.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			p := &retention.Pruner{Builds: st, Releases: st, Images: eng, Holds: holds, Instance: instance, KeepGreen: tt.keep}
			if err := p.Prune(ctx, "app"); err != nil {
				t.Fatalf("Prune: %v", err)
			}
			var got, gotRetries []int
			for n := 1; n <= len(tt.statuses); n++ {
				if ok, _ := eng.ImageExists(ctx, (&baleen.Build{Project: "app", Number: n}).ID(instance).ImageTag("app")); ok {
					got = append(got, n)
				}
				if ok, _ := eng.ImageExists(ctx, baleen.BuildID(fmt.Sprintf("app-%d-r1-%s", n, instance)).ImageTag("app")); ok {
					gotRetries = append(gotRetries, n)
				}
			}
			if !slices.Equal(got, tt.want) || !slices.Equal(gotRetries, tt.want) {
				t.Errorf("builds whose images remain: got %v (retries %v), want %v", got, gotRetries, tt.want)
			}
			for _, ref := range []string{"app:latest", "other:x", "app:theirs"} {
				if ok, _ := eng.ImageExists(ctx, ref); !ok {
					t.Errorf("%s was removed; it must stay", ref)
				}
			}
		})
	}
}

func TestHolds(t *testing.T) {
	h := retention.NewHolds()
	h.Hold("a")
	h.Hold("a")
	h.Release("a")
	if !h.Held("a") {
		t.Error("after two holds and one release: not held, want held")
	}
	h.Release("a")
	if h.Held("a") {
		t.Error("after every hold was released: held, want not held")
	}
}

func TestOwnBuild(t *testing.T) {
	tests := []struct {
		id, project, instance string
		want                  bool
	}{
		{"app-3-abcd0123", "app", "abcd0123", true},
		{"my-app-3-abcd0123", "my-app", "abcd0123", true},
		{"my-app-3-abcd0123", "app", "abcd0123", false},
		{"app-3-ffff0000", "app", "abcd0123", false},
		{"app-x-abcd0123", "app", "abcd0123", false},
		{"app-3-", "app", "", false},
		{"app-3-r1-abcd0123", "app", "abcd0123", true},
		{"my-app-3-r12-abcd0123", "my-app", "abcd0123", true},
		{"app-3-r1-abcd0123", "app-3", "abcd0123", false},
		{"app-r1-abcd0123", "app", "abcd0123", false},
		{"app-3-rx-abcd0123", "app", "abcd0123", false},
		{"app-03-abcd0123", "app", "abcd0123", false},
	}
	for _, tt := range tests {
		if got := retention.OwnBuild(baleen.BuildID(tt.id), tt.project, tt.instance); got != tt.want {
			t.Errorf("OwnBuild(%s, %s, %s): got %v, want %v", tt.id, tt.project, tt.instance, got, tt.want)
		}
	}
}
