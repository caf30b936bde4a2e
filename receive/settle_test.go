package receive

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/gitd"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/store"
)

// recordingScheduler is a Scheduler at the pipeline's boundary: it answers each Run with result and
// records the calls in order.
type recordingScheduler struct {
	mu     sync.Mutex
	calls  []string
	reqs   []pipeline.Request
	result baleen.Build
}

func (s *recordingScheduler) Run(_ context.Context, req pipeline.Request) (baleen.Build, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, "run "+req.Branch)
	s.reqs = append(s.reqs, req)
	b := s.result
	b.Project, b.Branch, b.Commit = req.Project, req.Branch, req.Commit
	return b, nil
}

func (s *recordingScheduler) Settle(_ context.Context, project string, number int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, fmt.Sprintf("settle %s #%d", project, number))
}

// TestPushBuildsSettleAfterRefsMove: a push's build runs with the update's old value to check before it
// releases and with its images held; it is settled (its images may be pruned) only in PostReceive, which
// the server calls once the refs have moved, whether they moved or not.
func TestPushBuildsSettleAfterRefsMove(t *testing.T) {
	for _, status := range []baleen.Status{baleen.StatusPassed, baleen.StatusFailed} {
		t.Run(string(status), func(t *testing.T) {
			st, err := store.Open(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			sched := &recordingScheduler{result: baleen.Build{Number: 7, Status: status, FailedStage: baleen.StageTest}}
			r := New(sched, st, st, nil, slog.New(slog.DiscardHandler))
			old, nw := strings.Repeat("a", 40), strings.Repeat("b", 40)
			p := gitd.Push{Project: "app", Updates: []gitd.RefUpdate{{Name: "refs/heads/main", Old: old, New: nw}}}
			r.Receive(t.Context(), p, io.Discard)
			sched.mu.Lock()
			req, calls := sched.reqs[0], append([]string(nil), sched.calls...)
			sched.mu.Unlock()
			if req.Old != old || !req.HoldImages {
				t.Errorf("request: got Old %q, HoldImages %v; want %q, true", req.Old, req.HoldImages, old)
			}
			if len(calls) != 1 {
				t.Fatalf("calls before the refs moved: got %v, want the run alone", calls)
			}
			var moved []gitd.RefUpdate
			if status == baleen.StatusPassed {
				moved = p.Updates
			}
			r.PostReceive(t.Context(), p, moved)
			sched.mu.Lock()
			defer sched.mu.Unlock()
			if got := strings.Join(sched.calls, ", "); got != "run main, settle app #7" {
				t.Errorf("calls: got %s, want run main, settle app #7", got)
			}
		})
	}
}

// TestCancelledBuildSaysWhy: a build that ended cancelled with a message (its branch moved before it
// released) rejects its ref with that message.
func TestCancelledBuildSaysWhy(t *testing.T) {
	st, err := store.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	msg := "main moved to 1234567 while this build waited; not releasing"
	sched := &recordingScheduler{result: baleen.Build{Number: 3, Status: baleen.StatusCancelled, FailedStage: baleen.StageTag, Message: msg}}
	r := New(sched, st, st, nil, slog.New(slog.DiscardHandler))
	p := gitd.Push{Project: "app", Updates: []gitd.RefUpdate{{Name: "refs/heads/main", Old: strings.Repeat("a", 40), New: strings.Repeat("b", 40)}}}
	errs := r.Receive(t.Context(), p, io.Discard)
	if want := "build #3 cancelled: " + msg; len(errs) != 1 || errs[0] == nil || errs[0].Error() != want {
		t.Errorf("got %v, want %q", errs, want)
	}
}
