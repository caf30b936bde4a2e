package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
	"github.com/baleen-ci/baleen/web/webtest"
	"github.com/chromedp/chromedp"
)

var webAddr = regexp.MustCompile(`msg="baleen web serving" addr=(127\.0\.0\.1:\d+)`)

// startWeb starts the server with its web side on a free port, every project public, and returns its URL.
func (s *server) startWeb() string {
	s.t.Helper()
	cfg := filepath.Join(s.t.TempDir(), "config.yml")
	if err := os.WriteFile(cfg, []byte("http:\n  listen: 127.0.0.1:0\n  public: true\n"), 0o600); err != nil {
		s.t.Fatal(err)
	}
	s.start("--config", cfg)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := webAddr.FindStringSubmatch(s.log.String()); m != nil {
			return "http://" + m[1]
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("the web side did not start:\n%s", s.log.String())
	return ""
}

// uiFiles is a project whose test writes a JUnit report, Cobertura coverage and an HTML coverage report
// whose script tries to act as the app.
func uiFiles(image, test string) map[string]string {
	return map[string]string{
		"Dockerfile": "FROM {{busybox}}\nWORKDIR /app\nCOPY . /app\n",
		"baleen.yml": "build:\n  " + image + ": .\ntest:\n  command: [/app/test.sh]\nartifacts:\n  xunit: /app/out/junit.xml\n" +
			"  coverage: /app/out/coverage.xml\n  coverage_html: /app/out/htmlcov\n",
		"test.sh": test,
	}
}

const webReports = `mkdir -p /app/out/htmlcov
echo '<coverage line-rate="0.8" lines-covered="8" lines-valid="10"></coverage>' > /app/out/coverage.xml
echo '<html><head><title>coverage</title></head><body>80%<script>document.title = "ran as " + document.domain; fetch("/api/v1/projects")</script></body></html>' > /app/out/htmlcov/index.html
`

const webGreen = "#!/bin/sh\necho 'running the tests'\n" + webReports +
	`echo '<testsuite><testcase classname="app" name="works"/><testcase classname="app" name="adds"/></testsuite>' > /app/out/junit.xml
`

const webRed = "#!/bin/sh\necho 'running the tests'\n" + webReports +
	`echo '<testsuite><testcase classname="app" name="works"/><testcase classname="app" name="adds"><failure message="expected 4, got 5"/></testcase></testsuite>' > /app/out/junit.xml
exit 1
`

const webGated = "#!/bin/sh\necho 'gated test started'\n" + webReports +
	`echo '<testsuite><testcase classname="app" name="works"/></testsuite>' > /app/out/junit.xml
while [ ! -f /tmp/go ]; do sleep 0.1; done
echo 'gated test released'
`

// TestWebAfterRealPushes pushes real builds to a real `baleen serve` and reads them in headless chromium:
// the dashboard shows the project green, a failed test's message is on its build page, the duration chart
// has a point per build, the coverage HTML runs no script as the app, and a running build's page shows its
// log growing and its verdict without a reload.
func TestWebAfterRealPushes(t *testing.T) {
	ctx := webtest.Browser(t)
	s := newServer(t)
	base := s.startWeb()
	const project = "webe2e"
	instance, err := os.ReadFile(filepath.Join(s.data, "instance"))
	if err != nil {
		t.Fatal(err)
	}
	buildID := func(n int) baleen.BuildID {
		return baleen.BuildID(fmt.Sprintf("%s-%d-%s", project, n, strings.TrimSpace(string(instance))))
	}
	for n := 1; n <= 3; n++ {
		dockertest.Cleanup(t, s.engine, buildID(n))
	}
	image := fmt.Sprintf("baleen-webe2e-%d", time.Now().UnixNano())
	r := s.newRepo(uiFiles(image, webGreen))
	r.git("remote", "add", "baleen", s.url(project))
	want(t, r.push("baleen", "main"), 0)

	var green int
	webtest.Run(t, ctx, "dashboard", chromedp.Navigate(base+"/"),
		chromedp.Evaluate(`document.querySelectorAll("#project-webe2e .st-passed[data-branch=main]").length`, &green))
	if green != 1 {
		t.Fatalf("dashboard: the main branch of %s is not shown green", project)
	}
	webtest.Screenshot(t, ctx, "dashboard")

	r.write(uiFiles(image, webRed))
	r.commit("red")
	want(t, r.push("baleen", "main"), 1)
	var page string
	webtest.Run(t, ctx, "failed build", chromedp.Navigate(base+"/p/webe2e/b/2"), chromedp.Text("main", &page, chromedp.ByQuery))
	if !strings.Contains(page, "expected 4, got 5") || !strings.Contains(page, "app.adds") {
		t.Fatalf("build 2 page lacks the failure:\n%s", page)
	}
	webtest.Screenshot(t, ctx, "build-failed")

	// The coverage report opens, but its script never runs.
	var title, href string
	webtest.Run(t, ctx, "coverage html", chromedp.Navigate(base+"/p/webe2e/b/1"),
		chromedp.Evaluate(`document.getElementById("coverage-html").href`, &href),
		chromedp.Click("#coverage-html", chromedp.ByQuery),
		chromedp.WaitVisible("body", chromedp.ByQuery), chromedp.Title(&title))
	if title != "coverage" {
		t.Fatalf("coverage page title %q: its script ran", title)
	}
	resp, err := http.Get(href)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "sandbox") {
		t.Fatalf("coverage html served with CSP %q, want a sandbox", csp)
	}

	// A gated build: the page shows its first lines, then the rest and the verdict arrive live.
	r.write(uiFiles(image, webGated))
	r.commit("gated")
	push, sc := r.startPush("baleen", "main")
	waitLine(t, sc, "gated test started")
	var before, after int
	var status string
	webtest.Run(t, ctx, "running build", chromedp.Navigate(base+"/p/webe2e/b/3"),
		chromedp.Evaluate(`window.sameLoad = true; document.querySelectorAll("#log .line").length`, &before))
	if !strings.Contains(s.mustText(ctx, "#log"), "gated test started") {
		t.Fatal("running build page lacks the lines so far")
	}
	webtest.Screenshot(t, ctx, "build-running")
	s.release(buildID(3))
	var same bool
	webtest.Run(t, ctx, "verdict arrives", chromedp.WaitVisible(`body[data-done="true"]`, chromedp.ByQuery),
		chromedp.Text("#status", &status, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll("#log .line").length`, &after),
		chromedp.Evaluate(`window.sameLoad === true`, &same))
	if status != "passed" || after <= before || !same {
		t.Fatalf("live page: status %q, lines %d then %d, same page %v; want passed, more lines, no reload", status, before, after, same)
	}
	if !strings.Contains(s.mustText(ctx, "#log"), "gated test released") {
		t.Fatal("the live log lacks the line written after the page loaded")
	}
	webtest.Screenshot(t, ctx, "build-finished-live")
	push.Wait()

	var points int
	webtest.Run(t, ctx, "project", chromedp.Navigate(base+"/p/webe2e"),
		chromedp.Evaluate(`document.querySelectorAll("figure:nth-of-type(3) svg a.pt").length`, &points))
	if points != 3 {
		t.Fatalf("duration chart: %d points, want one per build (3)", points)
	}
	webtest.Screenshot(t, ctx, "project")
}

func (s *server) mustText(ctx interface {
	Deadline() (time.Time, bool)
	Done() <-chan struct{}
	Err() error
	Value(any) any
}, sel string) string {
	s.t.Helper()
	var text string
	webtest.Run(s.t, ctx, "text of "+sel, chromedp.Text(sel, &text, chromedp.ByQuery))
	return text
}
