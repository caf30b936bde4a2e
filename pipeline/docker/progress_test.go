package docker

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	controlapi "github.com/moby/buildkit/api/services/control"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestStepRenderer(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ts := func(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(t0.Add(d)) }
	updates := []*controlapi.StatusResponse{
		{Vertexes: []*controlapi.Vertex{
			{Digest: "a", Name: "[a 1/2] FROM busybox", Cached: true},
			{Digest: "b", Name: "[a 2/2] RUN make", Started: ts(0)},
		}},
		// A log line split over two updates, and a step that ends in the same update as its last line.
		{Logs: []*controlapi.VertexLog{{Vertex: "b", Msg: []byte("compil")}}},
		{
			Logs:     []*controlapi.VertexLog{{Vertex: "b", Msg: []byte("ing\r\ndone\n")}},
			Vertexes: []*controlapi.Vertex{{Digest: "b", Name: "[a 2/2] RUN make", Started: ts(0), Completed: ts(1500 * time.Millisecond)}},
		},
		// A step seen again after it ended is not written twice.
		{Vertexes: []*controlapi.Vertex{{Digest: "b", Name: "[a 2/2] RUN make", Started: ts(0), Completed: ts(1500 * time.Millisecond)}}},
		{Vertexes: []*controlapi.Vertex{{Digest: "c", Name: "[b 1/1] RUN false", Started: ts(0), Completed: ts(time.Second), Error: "exit code: 1"}}},
		{Logs: []*controlapi.VertexLog{{Vertex: "d", Msg: []byte("no newline at the end")}}},
	}
	var out strings.Builder
	var steps []Step
	r := newStepRenderer(&out, func(s Step) { steps = append(steps, s) })
	for _, u := range updates {
		if err := r.status(u); err != nil {
			t.Fatal(err)
		}
	}
	r.flush()
	want := []string{
		"#1 [a 1/2] FROM busybox CACHED",
		"#2 compiling",
		"#2 done",
		"#2 [a 2/2] RUN make DONE 1.5s",
		"#3 [b 1/1] RUN false ERROR: exit code: 1",
		"#4 no newline at the end",
	}
	if diff := cmp.Diff(want, strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if len(steps) != 3 || !steps[0].Cached || steps[1].Completed.Sub(steps[1].Started) != 1500*time.Millisecond || steps[2].Error == "" {
		t.Errorf("steps: got %+v, want the cached, the done and the failed step with their times", steps)
	}
}
