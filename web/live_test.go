package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/store"
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
			if e.data != "" {
				e.data += "\n"
			}
			e.data += strings.TrimPrefix(line, "data: ")
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

// linesOf reads a "lines" event: each line's offset, the stages its headers start, and the lines' HTML.
func linesOf(t *testing.T, e sseEvent) (liveHeader, []string) {
	t.Helper()
	data := strings.Split(e.data, "\n")
	var h liveHeader
	if err := json.Unmarshal([]byte(data[0]), &h); err != nil {
		t.Fatalf("lines event %q: %v", e.data, err)
	}
	if len(h.Lengths) != len(data)-1 {
		t.Fatalf("lines event %q: %d lengths for %d lines", e.data, len(h.Lengths), len(data)-1)
	}
	return h, data[1:]
}

// nextLines gathers "lines" events until they hold n lines.
func nextLines(t *testing.T, ch <-chan sseEvent, n int) (offsets []int64, html []string, stages map[int64]string, lastID string) {
	t.Helper()
	stages = map[int64]string{}
	for len(html) < n {
		e := next(t, ch, "lines")
		h, ls := linesOf(t, e)
		offs := h.offsets()
		for i, st := range h.Stages {
			stages[offs[i]] = st
		}
		offsets, html, lastID = append(offsets, offs...), append(html, ls...), e.id
	}
	return offsets, html, stages, lastID
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
	req, _ := http.NewRequestWithContext(t.Context(), "GET", f.ts.URL+"/p/api/b/1/live?offset=0", nil)
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
	offs, html, stages, id := nextLines(t, ch, 2)
	if want := []int64{0, 10}; !slices.Equal(offs, want) || html[0] != "==&gt; build" || html[1] != "step 1" || stages[0] != "build" || id != "17" {
		t.Fatalf("stored lines: offsets %v, html %q, stages %v, id %q", offs, html, stages, id)
	}
	next(t, ch, "state")

	// A line written and published while the stream is open arrives through the event.
	const line = "step 2 \x1b[32mgreen\x1b[0m <b>\r"
	io.WriteString(w, line+"\n")
	f.bus.Publish(baleen.Event{Kind: baleen.EventLog, Project: "api", Build: 1, Text: line, Offset: 17})
	if offs, html, _, id := nextLines(t, ch, 1); offs[0] != 17 || html[0] != `step 2 <span class="a-f3">green</span> &lt;b&gt;&#13;` || id != "44" {
		t.Fatalf("live line: offsets %v, html %q, id %q", offs, html, id)
	}
	// A line whose event was lost is read from the store when a later one shows the gap.
	io.WriteString(w, "step 3\nstep 4\n")
	f.bus.Publish(baleen.Event{Kind: baleen.EventLog, Project: "api", Build: 1, Text: "step 4", Offset: 51})
	if offs, html, _, _ := nextLines(t, ch, 2); !slices.Equal(offs, []int64{44, 51}) || html[0] != "step 3" || html[1] != "step 4" {
		t.Fatalf("gap: offsets %v, html %q", offs, html)
	}
	// A line that only the store has comes before the end.
	io.WriteString(w, "step 5\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st := baleen.StatusPassed
	end := time.Now().UTC()
	if _, err := f.st.UpdateBuild(ctx, "api", 1, baleen.BuildPatch{Status: &st, Finished: &end}); err != nil {
		t.Fatal(err)
	}
	f.bus.Publish(baleen.Event{Kind: baleen.EventBuildFinished, Project: "api", Build: 1, Status: st})
	if _, html, _, _ := nextLines(t, ch, 1); html[0] != "step 5" {
		t.Fatalf("stored line: %q", html)
	}
	if e := next(t, ch, "done"); !strings.Contains(e.data, `"status":"passed"`) {
		t.Fatalf("done: %s", e.data)
	}
}

// TestLiveViewersShareAndResume has many browsers follow one build: each gets every line once and in
// order, from wherever it started, and one that reconnects with Last-Event-ID goes on where it stopped.
func TestLiveViewersShareAndResume(t *testing.T) {
	f := newFixture(t, nil)
	b := f.build("api", "main", baleen.StatusRunning, nil, "")
	w, err := f.st.LogWriter(t.Context(), "api", b.Number)
	if err != nil {
		t.Fatal(err)
	}
	var off int64
	emit := func(from, to int) {
		for i := from; i < to; i++ {
			line := fmt.Sprintf("line %d", i)
			io.WriteString(w, line+"\n")
			f.bus.Publish(baleen.Event{Kind: baleen.EventLog, Project: "api", Build: b.Number, Text: line, Offset: off})
			off += int64(len(line)) + 1
		}
	}
	emit(0, 10)
	c := f.client("rita")
	open := func(hdr ...string) <-chan sseEvent {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", f.ts.URL+"/p/api/b/1/live?offset=0", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		ch := make(chan sseEvent, 1000)
		go readEvents(t, resp.Body, ch)
		return ch
	}
	var viewers []<-chan sseEvent
	for range 5 {
		viewers = append(viewers, open())
	}
	emit(10, 500)
	var resumeID string
	for i, ch := range viewers {
		_, html, _, id := nextLines(t, ch, 500)
		for j, h := range html {
			if want := fmt.Sprintf("line %d", j); h != want {
				t.Fatalf("viewer %d, line %d: got %q, want %q", i, j, h, want)
			}
		}
		resumeID = id
	}
	// A reconnect says where it stopped; it gets only what came after.
	emit(500, 510)
	again := open("Last-Event-ID", resumeID)
	if _, html, _, _ := nextLines(t, again, 10); html[0] != "line 500" || html[9] != "line 509" {
		t.Fatalf("after a reconnect: %q", html)
	}
	w.Close()
}

// TestSlowViewerIsDropped stops a browser that reads nothing from holding the build or the other viewers:
// once its frames are full the hub drops it (to resync from the store) and goes on.
func TestSlowViewerIsDropped(t *testing.T) {
	f := newFixture(t, nil)
	f.build("api", "main", baleen.StatusRunning, nil, "")
	h, slow := f.srv.hubs.join("api", 1)
	_, fast := f.srv.hubs.join("api", 1)
	done := make(chan struct{})
	got := 0
	go func() {
		defer close(done)
		for range fast.ch {
			if got++; got == viewerFrames+10 {
				return
			}
		}
	}()
	for i := range viewerFrames + 10 {
		h.publish(&liveFrame{kind: frameLines, start: int64(i), end: int64(i + 1)})
		if i%8 == 0 {
			time.Sleep(time.Millisecond) // let the fast reader keep up
		}
	}
	<-done
	if !slow.lagged.Load() {
		t.Fatal("the viewer that read nothing was not dropped")
	}
	if n := drained(t, slow.ch); n != viewerFrames {
		t.Fatalf("the dropped viewer kept %d frames, want %d", n, viewerFrames)
	}
	if fast.lagged.Load() || got != viewerFrames+10 {
		t.Fatalf("the reading viewer: lagged %v, got %d frames, want %d", fast.lagged.Load(), got, viewerFrames+10)
	}
	f.srv.hubs.leave(h, fast)
	f.srv.hubs.leave(h, slow)
	f.srv.hubs.mu.Lock()
	left := len(f.srv.hubs.m)
	f.srv.hubs.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d hubs left after every viewer went", left)
	}
}

// drained counts the frames left in ch, which must be closed.
func drained(t *testing.T, ch <-chan *liveFrame) int {
	t.Helper()
	n := 0
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return n
			}
			n++
		case <-time.After(5 * time.Second):
			t.Fatal("the dropped viewer's frames were not closed")
		}
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

// countingBuilds is the real store, counting the log bytes read through it.
type countingBuilds struct {
	*store.Store
	read atomic.Int64
}

func (c *countingBuilds) Log(ctx context.Context, project string, number int, offset int64) (io.ReadCloser, error) {
	rc, err := c.Store.Log(ctx, project, number, offset)
	if err != nil {
		return nil, err
	}
	return countingReader{rc, &c.read}, nil
}

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n.Add(int64(n))
	return n, err
}

var lineAnchor = regexp.MustCompile(`<span class="line" id="[^"]*"><a[^>]*>\d*</a>(line \d+)`)

// TestLogPagesBackByOffset walks a long log from its end to its start with "show earlier lines": every line
// shows once, in order, each page reads about a page of the log, and the first page numbers its lines.
func TestLogPagesBackByOffset(t *testing.T) {
	cb := &countingBuilds{}
	f := newFixture(t, func(c *Config) { cb.Store = c.Builds.(*store.Store); c.Builds = cb })
	var sb strings.Builder
	const total = 6000
	for i := range total {
		fmt.Fprintf(&sb, "line %d %s\n", i, strings.Repeat("x", i%40))
	}
	f.build("api", "main", baleen.StatusPassed, nil, sb.String())
	c := f.client("rita")
	earlier := regexp.MustCompile(`href="/p/api/b/1\?before=(\d+)#log" rel="prev"`)
	var pages [][]string
	u := f.ts.URL + "/p/api/b/1"
	for range 50 {
		cb.read.Store(0)
		_, page := get(t, c, u)
		if n := cb.read.Load(); n > 2*pageLogLimit {
			t.Fatalf("%s read %d bytes of the log for one page", u, n)
		}
		var lines []string
		for _, m := range lineAnchor.FindAllStringSubmatch(page, -1) {
			lines = append(lines, m[1])
		}
		pages = append([][]string{lines}, pages...)
		m := earlier.FindStringSubmatch(page)
		if m == nil {
			if !strings.Contains(page, `id="L1"`) {
				t.Error("the first page does not number its lines")
			}
			if strings.Contains(page, "data-live=\"/") {
				t.Error("an earlier page of a finished build must not go live")
			}
			break
		}
		u = f.ts.URL + "/p/api/b/1?before=" + m[1]
	}
	var all []string
	for _, p := range pages {
		all = append(all, p...)
	}
	if len(pages) < 3 || len(all) != total {
		t.Fatalf("%d pages with %d lines, want several pages and %d lines", len(pages), len(all), total)
	}
	for i, l := range all {
		if want := fmt.Sprintf("line %d", i); l != want {
			t.Fatalf("line %d: got %q, want %q", i, l, want)
		}
	}
}
