package commands

import (
	"context"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/retention"
	"github.com/baleen-ci/baleen/store"
)

// TestGC runs `gc --dry-run` then `gc` against the store: the dry run lists the build the rules drop and
// leaves it, the real run removes it; without rules, gc says so.
func TestGC(t *testing.T) {
	h := newHandler(t)
	if code, _, errOut := call(h, "gc"); code != ExitFailed || !strings.Contains(errOut, "no retention rules") {
		t.Errorf("gc without rules: got %d %q, want %d and a message", code, errOut, ExitFailed)
	}
	st := h.Builds.(*store.Store)
	ctx := context.Background()
	b, err := st.CreateBuild(ctx, baleen.Build{Project: "api", Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	passed := baleen.StatusPassed
	if _, err := st.UpdateBuild(ctx, "api", b.Number, baleen.BuildPatch{Status: &passed}); err != nil {
		t.Fatal(err)
	}
	c := &retention.Collector{Projects: st, Builds: st, Deleter: st, Releases: st,
		Rules: retention.Rules{Policy: retention.Policy{KeepBuilds: 1}}}
	h.GC = c.GC
	code, out, errOut := call(h, "gc", "--dry-run")
	if code != ExitOK || !strings.Contains(out, "would remove api#1\n") {
		t.Fatalf("gc --dry-run: got %d, %q, %q; want api#1 listed", code, out, errOut)
	}
	if _, err := st.Build(ctx, "api", 1); err != nil {
		t.Errorf("after a dry run: %v; want api#1 kept", err)
	}
	code, out, errOut = call(h, "gc")
	if code != ExitOK || !strings.Contains(out, "removed api#1\n") {
		t.Fatalf("gc: got %d, %q, %q; want api#1 removed", code, out, errOut)
	}
	if _, err := st.Build(ctx, "api", 1); err == nil {
		t.Error("after gc: api#1 is still there")
	}
	if _, err := st.Build(ctx, "api", b.Number); err != nil {
		t.Errorf("after gc: the newest build: %v", err)
	}
}
