package web

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
)

// sseEvent is one server-sent event.
type sseEvent struct{ name, id, data string }

func readEvents(t *testing.T, body io.Reader, out chan<- sseEvent) {
	sc := bufio.NewScanner(body)
	var e sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			out <- e
			e = sseEvent{}
		case strings.HasPrefix(line, "event: "):
			e.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "id: "):
			e.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			e.data = strings.TrimPrefix(line, "data: ")
		}
	}
	close(out)
}

// next waits for the next event named one of names, skipping others.
func next(t *testing.T, ch <-chan sseEvent, name string) sseEvent {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("stream ended before a %q event", name)
			}
			if e.name == name {
				return e
			}
		case <-timeout:
			t.Fatalf("no %q event within 20s", name)
		}
	}
}

func TestLiveLogFollowsTheBuild(t *testing.T) {
	f := newFixture(t, nil)
	b := f.build("api", "main", baleen.StatusRunning, nil, "")
	ctx := context.Background()
	w, err := f.st.LogWriter(ctx, "api", b.Number)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "==> build\nstep 1\n")

	c := f.client("rita")
	req, _ := http.NewRequestWithContext(t.Context(), "GET", f.ts.URL+"/p/api/b/1/live?offset=0&line=0", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	ch := make(chan sseEvent, 100)
	go readEvents(t, resp.Body, ch)
	if e := next(t, ch, "line"); !strings.Contains(e.data, `"stage":"build"`) || !strings.Contains(e.data, `"num":1`) {
		t.Fatalf("first line: %s", e.data)
	}
	if e := next(t, ch, "line"); !strings.Contains(e.data, "step 1") || e.id != "17:2" {
		t.Fatalf("second line: %s id %s", e.data, e.id)
	}
	next(t, ch, "state")

	// A line written and published while the stream is open arrives through the event.
	const line = "step 2 \x1b[32mgreen\x1b[0m <b>"
	io.WriteString(w, line+"\n")
	f.bus.Publish(baleen.Event{Kind: baleen.EventLog, Project: "api", Build: 1, Text: line, Offset: 17})
	if e := next(t, ch, "line"); !strings.Contains(e.data, `step 2 \u003cspan class=\"a-f3\"\u003egreen\u003c/span\u003e \u0026lt;b\u0026gt;`) {
		t.Fatalf("live line: %s", e.data)
	}
	// A line that only the store has (its event was lost) comes on the next event.
	io.WriteString(w, "step 3\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st := baleen.StatusPassed
	end := time.Now().UTC()
	if _, err := f.st.UpdateBuild(ctx, "api", 1, baleen.BuildPatch{Status: &st, Finished: &end}); err != nil {
		t.Fatal(err)
	}
	f.bus.Publish(baleen.Event{Kind: baleen.EventBuildFinished, Project: "api", Build: 1, Status: st})
	if e := next(t, ch, "line"); !strings.Contains(e.data, "step 3") {
		t.Fatalf("stored line: %s", e.data)
	}
	if e := next(t, ch, "done"); !strings.Contains(e.data, `"status":"passed"`) {
		t.Fatalf("done: %s", e.data)
	}
}

func TestLogTailOfALongLog(t *testing.T) {
	f := newFixture(t, nil)
	var sb strings.Builder
	for i := 0; sb.Len() < pageLogLimit+100<<10; i++ {
		sb.WriteString("a line of build output that is long enough to fill the log quickly, number ")
		sb.WriteString(strings.Repeat("x", i%7))
		sb.WriteString("\n")
	}
	sb.WriteString("THE LAST LINE\n")
	f.build("api", "main", baleen.StatusPassed, nil, sb.String())
	_, page := get(t, f.client("rita"), f.ts.URL+"/p/api/b/1")
	if !strings.Contains(page, "THE LAST LINE") || !strings.Contains(page, "Showing the end of a long log") {
		t.Fatal("the page should show the log's tail and say so")
	}
	if strings.Contains(page, `id="L1"`) {
		t.Error("a tail must not claim line numbers")
	}
	if len(page) > pageLogLimit*3 {
		t.Errorf("page is %d bytes for a %d byte tail", len(page), pageLogLimit)
	}
}

// TestArtifactsSandboxed stops a build's HTML (a coverage report a pusher controls) from running script as
// the app: it is served under a CSP sandbox, and paths cannot leave the build's artifacts.
func TestArtifactsSandboxed(t *testing.T) {
	f := newFixture(t, nil)
	b := f.build("api", "main", baleen.StatusPassed, nil, "")
	dir := filepath.Join(f.arts, "api", "1", "coverage")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<script>alert(1)</script>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.UpdateBuild(t.Context(), "api", b.Number, baleen.BuildPatch{Artifacts: []string{"coverage/index.html"}}); err != nil {
		t.Fatal(err)
	}
	c := f.client("rita")
	resp, body := get(t, c, f.ts.URL+"/p/api/b/1/artifacts/coverage/index.html")
	if resp.StatusCode != 200 || body != "<script>alert(1)</script>" {
		t.Fatalf("got %s %q", resp.Status, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "sandbox;") || strings.Contains(csp, "allow-same-origin") || strings.Contains(csp, "allow-scripts") {
		t.Fatalf("CSP %q does not sandbox the page", csp)
	}
	_, page := get(t, c, f.ts.URL+"/p/api/b/1")
	if !strings.Contains(page, `id="coverage-html"`) {
		t.Error("the build page does not link the coverage report")
	}
	for _, p := range []string{"/p/api/b/1/artifacts/coverage/../../../../etc/passwd", "/p/api/b/1/artifacts/coverage%2F..%2F..%2Fsecret", "/p/api/b/1/artifacts/other.html"} {
		if resp, _ := get(t, c, f.ts.URL+p); resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusTemporaryRedirect {
			t.Errorf("%s: got %s, want 404 (or the mux's redirect to the cleaned path)", p, resp.Status)
		}
	}
}

func TestANSI(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "a < b", "a &lt; b"},
		{"red", "\x1b[31mred\x1b[0m ok", `<span class="a-f2">red</span> ok`},
		{"bold bright", "\x1b[1;92mgo", `<span class="a-f11 a-bold">go</span>`},
		{"cursor dropped", "\x1b[2Kline", "line"},
		{"unterminated", "x\x1b[31", "x"},
		{"escaped inside", "\x1b[33m<i>", `<span class="a-f4">&lt;i&gt;</span>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ansiHTML(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzANSI(f *testing.F) {
	f.Add("\x1b[31mred\x1b[0m")
	f.Add("<script>\x1b[1m")
	f.Fuzz(func(t *testing.T, s string) {
		out := ansiHTML(s)
		if strings.Contains(out, "<script") || strings.Count(out, "<span") != strings.Count(out, "</span>") {
			t.Fatalf("unsafe or unbalanced: %q -> %q", s, out)
		}
	})
}
