package retention_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/enginetest"
	"github.com/baleen-ci/baleen/pipeline/retention"
	"github.com/baleen-ci/baleen/store"
)

// gcBuild is one build TestGC makes.
type gcBuild struct {
	project, branch string
	status          baleen.Status
	dependsOn       int // a build of lib, 0 for none
}

// TestGC keeps two builds per branch (lib, by override, one) and checks that exactly the others go, with
// their records, logs, test runs, artifacts and images, while released, running and depended-on builds
// stay; --dry-run lists the same builds and removes nothing.
func TestGC(t *testing.T) {
	builds := []gcBuild{
		{"lib", "main", "passed", 0}, // lib#1: app#4 used it
		{"lib", "main", "passed", 0}, // lib#2: goes
		{"lib", "main", "failed", 0}, // lib#3: goes
		{"lib", "main", "passed", 0}, // lib#4: newest
		{"app", "main", "passed", 0}, // app#1: released
		{"app", "main", "failed", 0}, // app#2: goes
		{"app", "main", "running", 0},
		{"app", "main", "passed", 1}, // app#4
		{"app", "feat", "passed", 0}, // app#5
		{"app", "feat", "passed", 0}, // app#6
		{"app", "main", "failed", 0}, // app#7
		{"app", "feat", "passed", 0}, // app#8; app#5 goes
	}
	wantGone := []string{"lib#2", "lib#3", "app#2", "app#5"}

	ctx := t.Context()
	st, err := store.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng := enginetest.New()
	arts := t.TempDir()
	for _, p := range []string{"app", "lib"} {
		if err := st.CreateProject(ctx, baleen.Project{Name: p, Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	var all []string
	for _, gb := range builds {
		b := baleen.Build{Project: gb.project, Branch: gb.branch, Commit: "c", Created: time.Now()}
		if gb.dependsOn > 0 {
			b.Dependencies = []baleen.DependencyBuild{{Name: "lib", Project: "lib", Build: gb.dependsOn}}
		}
		b, err := st.CreateBuild(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.UpdateBuild(ctx, b.Project, b.Number, baleen.BuildPatch{Status: &gb.status}); err != nil {
			t.Fatal(err)
		}
		w, err := st.LogWriter(ctx, b.Project, b.Number)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("output\n"))
		w.Close()
		run := baleen.TestRun{Project: b.Project, Number: b.Number, Branch: b.Branch, Created: time.Now(),
			Cases: []baleen.TestCase{{Name: "t", Outcome: baleen.TestPassed}}}
		if err := st.RecordTests(ctx, run); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(arts, b.Project, strconv.Itoa(b.Number))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "out.txt"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		id := b.ID(instance)
		eng.AddImage(id.ImageTag(b.Project), map[string]string{baleen.LabelBuild: string(id)})
		all = append(all, b.Project+"#"+strconv.Itoa(b.Number))
	}
	if _, err := st.CreateRelease(ctx, baleen.Release{Project: "app", Build: 1, Status: baleen.StatusPassed, Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	c := &retention.Collector{Projects: st, Builds: st, Deleter: st, Releases: st, Images: eng,
		Holds: retention.NewHolds(), Instance: instance, ArtifactsDir: arts,
		Rules: retention.Rules{Policy: retention.Policy{KeepBuilds: 2}, Projects: map[string]retention.Policy{"li*": {KeepBuilds: 1}}}}

	var dry strings.Builder
	if err := c.GC(ctx, true, &dry); err != nil {
		t.Fatalf("GC dry run: %v", err)
	}
	if got := listed(dry.String(), "would remove "); !sameSet(got, wantGone) {
		t.Errorf("dry run lists %v, want %v\n%s", got, wantGone, dry.String())
	}
	checkRemaining(t, st, eng, arts, all, nil)

	var out strings.Builder
	if err := c.GC(ctx, false, &out); err != nil {
		t.Fatalf("GC: %v\n%s", err, out.String())
	}
	if got := listed(out.String(), "removed "); !sameSet(got, wantGone) {
		t.Errorf("GC reports %v, want %v\n%s", got, wantGone, out.String())
	}
	checkRemaining(t, st, eng, arts, all, wantGone)

	out.Reset()
	if err := c.GC(ctx, false, &out); err != nil {
		t.Fatalf("GC again: %v", err)
	}
	if got := listed(out.String(), "removed "); len(got) != 0 {
		t.Errorf("a second GC removes %v, want nothing", got)
	}
}

// checkRemaining checks that each build of all is in the store, with its log, test run, artifacts and
// image, unless it is in gone, in which case none of them is.
func checkRemaining(t *testing.T, st *store.Store, eng *enginetest.Engine, arts string, all, gone []string) {
	t.Helper()
	ctx := t.Context()
	for _, name := range all {
		project, num, _ := strings.Cut(name, "#")
		n, _ := strconv.Atoi(num)
		want := !slices.Contains(gone, name)
		_, err := st.Build(ctx, project, n)
		if has := err == nil; has != want {
			t.Errorf("%s: record kept %v, want %v (%v)", name, has, want, err)
		} else if err != nil && !errors.Is(err, baleen.ErrNotFound) {
			t.Errorf("%s: %v", name, err)
		}
		_, err = os.Stat(filepath.Join(arts, project, num))
		if has := err == nil; has != want {
			t.Errorf("%s: artifacts kept %v, want %v", name, has, want)
		}
		id := (&baleen.Build{Project: project, Number: n}).ID(instance)
		if has, _ := eng.ImageExists(ctx, id.ImageTag(project)); has != want {
			t.Errorf("%s: image kept %v, want %v", name, has, want)
		}
		runs, err := st.TestRuns(ctx, project, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		has := slices.ContainsFunc(runs, func(r baleen.TestRun) bool { return r.Number == n })
		if has != want {
			t.Errorf("%s: test run kept %v, want %v", name, has, want)
		}
	}
}

// listed returns the build names of out's lines that start with prefix.
func listed(out, prefix string) []string {
	var names []string
	for line := range strings.Lines(out) {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok && strings.Contains(name, "#") {
			names = append(names, name)
		}
	}
	return names
}

func sameSet(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(a, b)
}

// TestPolicy checks which builds a policy keeps by count per branch, by age, and with overrides.
func TestPolicy(t *testing.T) {
	r := retention.Rules{Policy: retention.Policy{KeepBuilds: 50, KeepDays: 90},
		Projects: map[string]retention.Policy{"shop-*": {KeepBuilds: 200}, "shop-api": {KeepDays: 7}, "*": {KeepDays: 30}}}
	tests := []struct {
		project string
		want    retention.Policy
	}{
		{"shop-web", retention.Policy{KeepBuilds: 200, KeepDays: 90}},
		{"shop-api", retention.Policy{KeepBuilds: 50, KeepDays: 7}},
		{"blog", retention.Policy{KeepBuilds: 50, KeepDays: 30}},
	}
	for _, tt := range tests {
		if got := r.For(tt.project); got != tt.want {
			t.Errorf("For(%s): got %+v, want %+v", tt.project, got, tt.want)
		}
	}
	if err := (retention.Rules{Projects: map[string]retention.Policy{"[": {}}}).Validate(); !errors.Is(err, baleen.ErrInvalid) {
		t.Errorf("a bad glob: got %v, want ErrInvalid", err)
	}
	if err := (retention.Rules{Policy: retention.Policy{KeepDays: -1}}).Validate(); !errors.Is(err, baleen.ErrInvalid) {
		t.Errorf("negative days: got %v, want ErrInvalid", err)
	}
}

// TestGCDays keeps the builds younger than keep_days when keep_builds is not set.
func TestGCDays(t *testing.T) {
	ctx := t.Context()
	st, err := store.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateProject(ctx, baleen.Project{Name: "app", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, age := range []int{20, 9, 2} {
		b, err := st.CreateBuild(ctx, baleen.Build{Project: "app", Branch: "main", Created: now.AddDate(0, 0, -age)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.UpdateBuild(ctx, "app", b.Number, baleen.BuildPatch{Status: ptr(baleen.StatusPassed)}); err != nil {
			t.Fatal(err)
		}
	}
	c := &retention.Collector{Projects: st, Builds: st, Deleter: st, Releases: st,
		Rules: retention.Rules{Policy: retention.Policy{KeepDays: 10}}, Now: func() time.Time { return now }}
	var out strings.Builder
	if err := c.GC(ctx, false, &out); err != nil {
		t.Fatal(err)
	}
	if got := listed(out.String(), "removed "); !slices.Equal(got, []string{"app#1"}) {
		t.Errorf("removed %v, want [app#1] (20 days old; keep_days 10)", got)
	}
}

func ptr[T any](v T) *T { return &v }
