package web

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/web/webtest"
	"github.com/chromedp/chromedp"
)

// TestBrowserLiveLog opens a running build's page and watches its log grow in batches, a new stage open its
// own group, line numbers go on from the page's, and the verdict arrive, all without a reload.
func TestBrowserLiveLog(t *testing.T) {
	ctx := webtest.Browser(t)
	f := newFixture(t, func(c *Config) { c.Public = true })
	w, emit := runningLog(t, f)
	emit("==> build", "compiling")
	webtest.Run(t, ctx, "open the running build", chromedp.Navigate(f.ts.URL+"/p/api/b/1"), chromedp.WaitVisible("#L2", chromedp.ByQuery),
		chromedp.Evaluate(`window.sameLoad = true`, nil))
	var more []string
	for i := range 300 {
		more = append(more, fmt.Sprintf("step %d \x1b[32mok\x1b[0m", i))
	}
	emit(more...)
	emit("==> test", "PASS <all>")
	var text, group string
	var same bool
	webtest.Run(t, ctx, "live lines", chromedp.WaitVisible("#L304", chromedp.ByQuery),
		chromedp.Text("#L304", &text, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector("#L303").closest("details").querySelector("summary").textContent`, &group),
		chromedp.Evaluate(`window.sameLoad === true`, &same))
	if strings.TrimSpace(text) != "304PASS <all>" || group != "test" || !same {
		t.Fatalf("line 304 %q in group %q (same page %v); want the escaped text in the test group", text, group, same)
	}
	var colour int
	webtest.Run(t, ctx, "colours", chromedp.Evaluate(`document.querySelectorAll("#log .a-f3").length`, &colour))
	if colour != 300 {
		t.Errorf("%d coloured spans, want 300", colour)
	}
	w.Close()
	st := baleen.StatusPassed
	if _, err := f.st.UpdateBuild(t.Context(), "api", 1, baleen.BuildPatch{Status: &st}); err != nil {
		t.Fatal(err)
	}
	f.bus.Publish(baleen.Event{Kind: baleen.EventBuildFinished, Project: "api", Build: 1, Status: st})
	var status string
	webtest.Run(t, ctx, "verdict", chromedp.WaitVisible(`body[data-done="true"]`, chromedp.ByQuery), chromedp.Text("#status", &status, chromedp.ByQuery))
	if status != "passed" {
		t.Fatalf("status %q, want passed", status)
	}
	webtest.Screenshot(t, ctx, "web-build-live")
}

// TestBrowserLiveTailAnchors opens a running build whose log is longer than the page shows: the page shows
// its tail, anchored by byte offset, and each line that arrives live is anchored at its own offset in the
// log (the stream sends where its first line starts and each line's length).
func TestBrowserLiveTailAnchors(t *testing.T) {
	ctx := webtest.Browser(t)
	f := newFixture(t, func(c *Config) { c.Public = true })
	w, emit := runningLog(t, f)
	defer w.Close()
	var last, off int64
	for i := 0; off < pageLogLimit+8<<10; i++ {
		last = off
		off = emit(fmt.Sprintf("early line %d", i))
	}
	webtest.Run(t, ctx, "open the running build", chromedp.Navigate(f.ts.URL+"/p/api/b/1"),
		chromedp.WaitVisible(fmt.Sprintf("#o%d", last), chromedp.ByQuery))
	var want []int64
	var texts []string
	for i := range 5 {
		want = append(want, off)
		text := fmt.Sprintf("live line %d%s", i, strings.Repeat("!", i*7))
		texts = append(texts, text)
		off = emit(text)
	}
	for i, o := range want {
		var got string
		webtest.Run(t, ctx, "live line", chromedp.WaitVisible(fmt.Sprintf("#o%d", o), chromedp.ByQuery),
			chromedp.Text(fmt.Sprintf("#o%d", o), &got, chromedp.ByQuery))
		if strings.TrimSpace(got) != texts[i] {
			t.Errorf("the line anchored at offset %d reads %q, want %q", o, got, texts[i])
		}
	}
}

// runningLog records a running build of api, and returns its log and a func that writes lines to the log
// and publishes them as events, as the stage runner does; it returns where the log ends.
func runningLog(t *testing.T, f *fixture) (io.Closer, func(lines ...string) int64) {
	t.Helper()
	b := f.build("api", "main", baleen.StatusRunning, nil, "")
	w, err := f.st.LogWriter(t.Context(), "api", b.Number)
	if err != nil {
		t.Fatal(err)
	}
	var off int64
	return w, func(lines ...string) int64 {
		for _, l := range lines {
			io.WriteString(w, l+"\n")
			f.bus.Publish(baleen.Event{Kind: baleen.EventLog, Project: "api", Build: b.Number, Text: l, Offset: off})
			off += int64(len(l)) + 1
		}
		return off
	}
}
