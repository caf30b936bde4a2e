package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/store"
)

// TestSchedulerLogLimit runs a build whose test prints far past LogLimit: its log ends with the store's
// marker and is no longer than the limit and the marker, and the build is still recorded as passed.
func TestSchedulerLogLimit(t *testing.T) {
	const limit = 64 << 10
	sv := newServer(t, func(c *pipeline.SchedulerConfig) { c.LogLimit = limit })
	sv.eng.Test = func(ctx context.Context, id baleen.BuildID, c baleen.ContainerSpec, out io.Writer) (int, error) {
		line := strings.Repeat("z", 99) + "\n"
		for range 10 * limit / len(line) {
			fmt.Fprint(out, line)
		}
		return 0, nil
	}
	sv.commit("app", "c1", appSpec)
	b := sv.run("app", "c1", io.Discard)
	if b.Status != baleen.StatusPassed {
		t.Fatalf("got %s (%s), want passed", b.Status, b.Message)
	}
	rec, err := sv.st.Build(context.Background(), "app", b.Number)
	if err != nil || rec.Status != baleen.StatusPassed {
		t.Fatalf("record: %v, %v; want passed", rec.Status, err)
	}
	r, err := sv.st.Log(context.Background(), "app", b.Number, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	log, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	marker := fmt.Sprintf(store.TruncatedMarker, limit)
	if !strings.HasSuffix(string(log), marker) || len(log) != limit+len(marker) {
		t.Errorf("log: %d bytes ending %q; want %d ending with the marker", len(log), log[max(0, len(log)-120):], limit+len(marker))
	}
}
