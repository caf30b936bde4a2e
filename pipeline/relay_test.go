package pipeline_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/events"
	"github.com/baleen-ci/baleen/pipeline"
)

// storedLog reads build number of project's whole stored log.
func storedLog(t *testing.T, sv *server, project string, number int) string {
	t.Helper()
	rc, err := sv.st.Log(t.Context(), project, number, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPushOutputRelayedFromEvents: what a build's watcher (a push's remote: lines) reads is relayed from the
// build's events, so it is the stored log exactly, even when the watcher falls far behind the events (a bus
// buffer of one event) and has to read what it missed from the stored log.
func TestPushOutputRelayedFromEvents(t *testing.T) {
	bus := events.New(1)
	sv := newServer(t, func(c *pipeline.SchedulerConfig) { c.Events = bus })
	sv.eng.Test = func(_ context.Context, _ baleen.BuildID, _ baleen.ContainerSpec, out io.Writer) (int, error) {
		for i := range 300 {
			io.WriteString(out, strings.Repeat("y", i%11)+" test line\n")
		}
		io.WriteString(out, "no newline at the end")
		return 0, nil
	}
	sv.commit("app", "c1", appSpec)
	var out bytes.Buffer
	b := sv.run("app", "c1", slowWriter{&out})
	if b.Status != baleen.StatusPassed {
		t.Fatalf("got %s, want passed", b.Status)
	}
	if stored := storedLog(t, sv, "app", b.Number); out.String() != stored {
		t.Errorf("watcher got %d bytes, stored log has %d; watcher got:\n%s", out.Len(), len(stored), out.String())
	}
}

// blockedWriter holds every write until open is closed, as a pusher whose connection stalls.
type blockedWriter struct {
	open chan struct{}
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (w *blockedWriter) Write(p []byte) (int, error) {
	<-w.open
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// TestStalledWatcherDoesNotStallBuild: a watcher that reads nothing does not hold up the build: its record
// is final while the watcher is stuck, and the watcher still gets the whole output once it reads again.
func TestStalledWatcherDoesNotStallBuild(t *testing.T) {
	sv := newServer(t, nil)
	sv.commit("app", "c1", appSpec)
	w := &blockedWriter{open: make(chan struct{})}
	done := sv.start("app", "c1", w)
	waitFor(t, "the build's record to be final while its watcher is stuck", func() bool {
		b, err := sv.st.Build(context.Background(), "app", 1)
		return err == nil && b.Status.Final()
	})
	close(w.open)
	b := wait(t, done)
	if b.Status != baleen.StatusPassed {
		t.Fatalf("got %s (%s), want passed", b.Status, b.Message)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if stored := storedLog(t, sv, "app", 1); w.buf.String() != stored || !strings.Contains(stored, "PASSED") {
		t.Errorf("watcher got:\n%s\nstored log:\n%s", w.buf.String(), stored)
	}
}
