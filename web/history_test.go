package web

import (
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/web/webtest"
	"github.com/chromedp/chromedp"
)

// withTestHistory records four builds of api on main and their test cases, so that build 4's failures are
// one failing since #2 (api.TestA), one new (api.TestB) and one new and flaky (api.TestD: it failed and
// passed on one commit, builds 2 and 3).
func withTestHistory(t *testing.T, f *fixture) {
	t.Helper()
	p, fl := baleen.TestPassed, baleen.TestFailed
	runs := []struct {
		commit  string
		a, b, d baleen.TestOutcome
	}{{"c1", p, p, p}, {"c2", fl, p, fl}, {"c2", fl, p, p}, {"c4", fl, fl, fl}}
	for i, r := range runs {
		rep := &baleen.TestReport{}
		cases := []baleen.TestCase{{Name: "api.TestA", Outcome: r.a}, {Name: "api.TestB", Outcome: r.b}, {Name: "api.TestD", Outcome: r.d}}
		for _, c := range cases {
			if c.Outcome == fl {
				rep.Failed++
				rep.Failures = append(rep.Failures, baleen.TestFailure{Name: c.Name, Message: "want 2, got 3"})
			} else {
				rep.Passed++
			}
		}
		status := baleen.StatusPassed
		if rep.Failed > 0 {
			status = baleen.StatusFailed
		}
		b := f.build("api", "main", status, rep, "")
		run := baleen.TestRun{Project: "api", Number: b.Number, Branch: "main", Commit: r.commit, Created: time.Now().UTC(), Cases: cases}
		if err := f.st.RecordTests(t.Context(), run); err != nil {
			t.Fatal(err)
		}
		if b.Number != i+1 {
			t.Fatalf("build %d, want %d", b.Number, i+1)
		}
	}
}

// failureNotes cuts a build page into its failures and returns each one's summary, by test name.
func failureNotes(page string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(page, `<details class="failure"`)[1:] {
		sum, _, _ := strings.Cut(part, "</summary>")
		for _, name := range []string{"api.TestA", "api.TestB", "api.TestD"} {
			if strings.Contains(sum, name) {
				out[name] = sum
			}
		}
	}
	return out
}

func TestBuildPageFailureHistory(t *testing.T) {
	f := newFixture(t, nil)
	withTestHistory(t, f)
	_, page := get(t, f.client("rita"), f.ts.URL+"/p/api/b/4")
	notes := failureNotes(page)
	tests := []struct {
		name      string
		want, not []string
	}{
		{"api.TestA", []string{`failing since <a href="/p/api/b/2">#2</a>`}, []string{"tag-new", "tag-flaky"}},
		{"api.TestB", []string{`class="tag tag-new">new<`}, []string{"failing since", "tag-flaky"}},
		{"api.TestD", []string{`class="tag tag-new">new<`, `class="tag tag-flaky">flaky<`}, []string{"failing since"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sum, ok := notes[tt.name]
			if !ok {
				t.Fatalf("no failure %s on the page", tt.name)
			}
			for _, w := range tt.want {
				if !strings.Contains(sum, w) {
					t.Errorf("got %q, want it to hold %q", sum, w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(sum, n) {
					t.Errorf("got %q, want no %q", sum, n)
				}
			}
		})
	}
}

// TestBuildPageFailuresWithoutHistory shows a server that keeps no test history: the failures, unmarked.
func TestBuildPageFailuresWithoutHistory(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Tests = nil })
	withTestHistory(t, f)
	_, page := get(t, f.client("rita"), f.ts.URL+"/p/api/b/4")
	notes := failureNotes(page)
	if len(notes) != 3 || strings.Contains(page, `class="tag `) {
		t.Fatalf("want 3 failures without history notes; got %d:\n%v", len(notes), notes)
	}
}

func TestBrowserFailureHistory(t *testing.T) {
	ctx := webtest.Browser(t)
	f := newFixture(t, func(c *Config) { c.Public = true })
	withTestHistory(t, f)
	var sums []string
	webtest.Run(t, ctx, "open build 4", chromedp.Navigate(f.ts.URL+"/p/api/b/4"),
		chromedp.WaitVisible(".failure", chromedp.ByQuery),
		chromedp.Evaluate(`Array.from(document.querySelectorAll(".failure summary")).map(s => s.textContent.replace(/\s+/g, " ").trim())`, &sums))
	want := []string{"✗ api.TestA failing since #2", "✗ api.TestB new", "✗ api.TestD new flaky"}
	if strings.Join(sums, "|") != strings.Join(want, "|") {
		t.Fatalf("failures read %q, want %q", sums, want)
	}
	var href string
	webtest.Run(t, ctx, "follow since", chromedp.Click(".tag-since a", chromedp.ByQuery), chromedp.WaitVisible("#status", chromedp.ByQuery),
		chromedp.Location(&href))
	if !strings.HasSuffix(href, "/p/api/b/2") {
		t.Fatalf("the failing-since link went to %s, want build 2", href)
	}
	webtest.Run(t, ctx, "back", chromedp.Navigate(f.ts.URL+"/p/api/b/4"), chromedp.WaitVisible(".failure", chromedp.ByQuery))
	webtest.Screenshot(t, ctx, "web-build-failures")
}
