package web

import (
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/web/webtest"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

func awaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }

// tabStops presses Tab through the page and returns the text of every button and link that took focus.
func tabStops(t *testing.T, ctx chromedpContext, n int) []string {
	t.Helper()
	var seen []string
	for range n {
		var s string
		webtest.Run(t, ctx, "tab", chromedp.KeyEvent(kb.Tab),
			chromedp.Evaluate(`(document.activeElement.tagName + " " + document.activeElement.textContent).trim()`, &s))
		seen = append(seen, s)
	}
	return seen
}

type chromedpContext = interface {
	Deadline() (time.Time, bool)
	Done() <-chan struct{}
	Err() error
	Value(any) any
}

func TestBrowserSignInAndActions(t *testing.T) {
	ctx := webtest.Browser(t)
	f := newFixture(t, nil)
	f.build("api", "main", baleen.StatusPassed, &baleen.TestReport{Passed: 2, Coverage: cov(75)}, "==> build\nok\n==> test\n\x1b[32mPASS\x1b[0m\n")
	f.build("api", "main", baleen.StatusRunning, nil, "==> build\nbuilding\n")
	ann := baleen.Identity{User: "ann", Fingerprint: "SHA256:ann"}

	// Sign-in: the link works once, then it is spent; an expired one never works.
	link, err := f.srv.LoginURL(t.Context(), ann, f.ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	var who, msg string
	webtest.Run(t, ctx, "sign in", chromedp.Navigate(link), chromedp.Click("#login button", chromedp.ByQuery),
		chromedp.WaitVisible("#dashboard", chromedp.ByQuery), chromedp.Text(".who", &who, chromedp.ByQuery))
	if who != "ann" {
		t.Fatalf("signed in as %q, want ann", who)
	}
	webtest.Screenshot(t, ctx, "web-dashboard")
	webtest.Run(t, ctx, "reuse the link", chromedp.Navigate(link), chromedp.Click("#login button", chromedp.ByQuery),
		chromedp.Text("#error", &msg, chromedp.ByQuery))
	if !strings.Contains(msg, "used already or has expired") {
		t.Fatalf("second use of the link: %q", msg)
	}
	late, _ := f.srv.LoginURL(t.Context(), ann, f.ts.URL)
	f.srv.sessions.mu.Lock()
	f.srv.sessions.now = func() time.Time { return time.Now().Add(LoginTTL + time.Minute) }
	f.srv.sessions.mu.Unlock()
	webtest.Run(t, ctx, "expired link", chromedp.Navigate(late), chromedp.Click("#login button", chromedp.ByQuery),
		chromedp.Text("#error", &msg, chromedp.ByQuery))
	f.srv.sessions.mu.Lock()
	f.srv.sessions.now = time.Now
	f.srv.sessions.mu.Unlock()
	if !strings.Contains(msg, "expired") {
		t.Fatalf("expired link: %q", msg)
	}

	// Keyboard: Tab reaches every action of a green build and of a running one.
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/p/api/b/1", []string{"BUTTON Rebuild", "BUTTON Deploy", "BUTTON Sign out"}},
		{"/p/api/b/2", []string{"BUTTON Rebuild", "BUTTON Cancel"}},
	} {
		webtest.Run(t, ctx, "open "+tc.path, chromedp.Navigate(f.ts.URL+tc.path), chromedp.WaitVisible("#status", chromedp.ByQuery))
		stops := strings.Join(tabStops(t, ctx, 25), "\n")
		for _, w := range tc.want {
			if !strings.Contains(stops, w) {
				t.Errorf("%s: Tab never reaches %q; it stops at:\n%s", tc.path, w, stops)
			}
		}
	}
	webtest.Run(t, ctx, "open build 1", chromedp.Navigate(f.ts.URL+"/p/api/b/1"), chromedp.WaitVisible("#status", chromedp.ByQuery))
	webtest.Screenshot(t, ctx, "web-build")

	// A form whose CSRF token was taken away is refused, and nothing is done.
	webtest.Run(t, ctx, "post without the token",
		chromedp.SetAttributeValue(`form[action$="/deploy"] input[name=csrf]`, "value", "", chromedp.ByQuery),
		chromedp.Click(`form[action$="/deploy"] button`, chromedp.ByQuery),
		chromedp.Text("#error", &msg, chromedp.ByQuery))
	if !strings.Contains(msg, "CSRF") || len(f.actions.Calls()) != 0 {
		t.Fatalf("deploy without a token: page %q, actions %q", msg, f.actions.Calls())
	}
	// With the keyboard: focus Rebuild and press Enter.
	webtest.Run(t, ctx, "rebuild by keyboard", chromedp.Navigate(f.ts.URL+"/p/api/b/1"),
		chromedp.Focus(`form[action$="/rebuild"] button`, chromedp.ByQuery), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(".builds", chromedp.ByQuery))
	if got := f.actions.Calls(); len(got) != 1 || got[0] != "rebuild api 1 web by ann" {
		t.Fatalf("actions: got %q, want one rebuild by ann", got)
	}

	// A reader is offered no action, and one posted with a valid token is refused.
	rl, _ := f.srv.LoginURL(t.Context(), baleen.Identity{User: "rita", Fingerprint: "SHA256:rita"}, f.ts.URL)
	var forms int
	var status float64
	webtest.Run(t, ctx, "reader", chromedp.Navigate(rl), chromedp.Click("#login button", chromedp.ByQuery),
		chromedp.WaitVisible("#dashboard", chromedp.ByQuery),
		chromedp.Navigate(f.ts.URL+"/p/api/b/1"), chromedp.WaitVisible("#status", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll("form[action*='/b/']").length`, &forms),
		chromedp.Evaluate(`fetch("/p/api/b/1/rebuild", {method: "POST", body: new URLSearchParams({csrf: document.querySelector("input[name=csrf]").value})}).then(r => r.status)`, &status, awaitPromise))
	if forms != 0 || status != 403 {
		t.Fatalf("reader: %d action forms and a rebuild answered %v; want none and 403", forms, status)
	}
	if got := f.actions.Calls(); len(got) != 1 {
		t.Fatalf("actions after the reader: %q", got)
	}

	// The dashboard of a wall screen picks up a new build by itself.
	var same bool
	webtest.Run(t, ctx, "dashboard", chromedp.Navigate(f.ts.URL+"/"), chromedp.WaitVisible("#dashboard", chromedp.ByQuery),
		chromedp.Evaluate(`window.sameLoad = true`, &same))
	f.build("api", "main", baleen.StatusFailed, nil, "")
	webtest.Run(t, ctx, "dashboard refresh", chromedp.WaitVisible(`#project-api a[href="/p/api/b/3"]`, chromedp.ByQuery),
		chromedp.Evaluate(`window.sameLoad === true`, &same))
	if !same {
		t.Fatal("the dashboard reloaded the page instead of refreshing its cards")
	}
}
