package web

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/web/webtest"
	"github.com/chromedp/chromedp"
)

// hostJournals stands in for the deployer at the boundary where hosts fail: "ok" hosts print their units'
// journals (as the deployer prints them, credentials already masked), "down" refuses, "hung" never answers.
type hostJournals struct {
	mu      sync.Mutex
	queries []baleen.JournalQuery
}

func (h *hostJournals) Units(_ context.Context, project string, rel baleen.Release) ([]string, error) {
	if project != "api" {
		return nil, fmt.Errorf("project %s: %w", project, baleen.ErrNotFound)
	}
	return []string{"web", "worker"}, nil
}

func (h *hostJournals) Journal(ctx context.Context, q baleen.JournalQuery, w io.Writer) error {
	h.mu.Lock()
	h.queries = append(h.queries, q)
	h.mu.Unlock()
	switch {
	case strings.HasPrefix(q.Host, "down"):
		return fmt.Errorf("host %s: dial tcp: connection refused", q.Host)
	case strings.HasPrefix(q.Host, "hung"):
		<-ctx.Done()
		return ctx.Err()
	}
	fmt.Fprintf(w, "2026-11-30T07:00:00+0000 %s %s[1]: started <b>release</b>\n", q.Host, q.Unit)
	fmt.Fprintf(w, "2026-11-30T07:00:01+0000 %s %s[1]: password=********\n", q.Host, q.Unit)
	return nil
}

// withReleases records two releases of api to prod: #1, then #2 (the current one) on three hosts.
func withReleases(t *testing.T, f *fixture) {
	t.Helper()
	f.build("api", "main", baleen.StatusPassed, nil, "")
	hosts := []baleen.HostResult{{Host: "ok-1", Status: baleen.StatusPassed}, {Host: "down-2", Status: baleen.StatusPassed}, {Host: "hung-3", Status: baleen.StatusPassed}}
	for range 2 {
		if _, err := f.st.CreateRelease(t.Context(), baleen.Release{Project: "api", Build: 1, Commit: strings.Repeat("ab", 20), Target: "prod",
			Hosts: hosts, Status: baleen.StatusPassed, Started: time.Now().UTC(), By: "push"}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReleasesPageJournals(t *testing.T) {
	hj := &hostJournals{}
	f := newFixture(t, func(c *Config) { c.Journals = hj })
	withReleases(t, f)
	_, page := get(t, f.client("rita"), f.ts.URL+"/p/api/releases")
	if n := strings.Count(page, `class="unit-journal"`); n != 6 {
		t.Fatalf("%d unit journals on the page, want 2 units on 3 hosts of the current release only", n)
	}
	for _, want := range []string{
		"ok-1 web[1]: started &lt;b&gt;release&lt;/b&gt;",
		"ok-1 worker[1]: password=********",
		"connection refused",
		"no answer within " + journalTimeout.String(),
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page does not show %q", want)
		}
	}
	if strings.Contains(page, "<b>release") {
		t.Error("a journal line's markup reached the page unescaped")
	}
	hj.mu.Lock()
	defer hj.mu.Unlock()
	var got []string
	for _, q := range hj.queries {
		if q.Project != "api" || q.Target != "prod" || q.Lines != journalLines || q.Follow {
			t.Errorf("query %+v: want api's prod, %d lines, no follow", q, journalLines)
		}
		got = append(got, q.Host+"/"+q.Unit)
	}
	slices.Sort(got)
	want := []string{"down-2/web", "down-2/worker", "hung-3/web", "hung-3/worker", "ok-1/web", "ok-1/worker"}
	if !slices.Equal(got, want) {
		t.Errorf("journals asked: got %q, want %q", got, want)
	}
}

func TestReleasesPageWithoutJournals(t *testing.T) {
	f := newFixture(t, nil)
	withReleases(t, f)
	resp, page := get(t, f.client("rita"), f.ts.URL+"/p/api/releases")
	if resp.StatusCode != 200 || strings.Contains(page, "unit-journal") || !strings.Contains(page, "ok-1") {
		t.Fatalf("got %s; want the releases and their hosts without journals", resp.Status)
	}
}

func TestCappedBuffer(t *testing.T) {
	c := &cappedBuffer{max: 5}
	for _, s := range []string{"abc", "defg", "h"} {
		if n, err := io.WriteString(c, s); n != len(s) || err != nil {
			t.Fatalf("write %q: %d, %v", s, n, err)
		}
	}
	if got := c.String(); got != "abcde\n[cut short]\n" {
		t.Fatalf("got %q", got)
	}
}

func TestBrowserReleaseJournals(t *testing.T) {
	ctx := webtest.Browser(t)
	f := newFixture(t, func(c *Config) { c.Public = true; c.Journals = &hostJournals{} })
	withReleases(t, f)
	var text, failed string
	webtest.Run(t, ctx, "open releases", chromedp.Navigate(f.ts.URL+"/p/api/releases"),
		chromedp.WaitVisible(`details.unit-journal[data-host="ok-1"] summary`, chromedp.ByQuery),
		chromedp.Click(`details.unit-journal[data-host="ok-1"] summary`, chromedp.ByQuery),
		chromedp.Text(`details.unit-journal[data-host="ok-1"] pre`, &text, chromedp.ByQuery),
		chromedp.Text(`details.unit-journal[data-host="down-2"] summary`, &failed, chromedp.ByQuery))
	if !strings.Contains(text, "ok-1 web[1]: started <b>release</b>") || !strings.Contains(text, "password=********") {
		t.Fatalf("ok-1's web journal reads %q", text)
	}
	if !strings.Contains(failed, "connection refused") {
		t.Fatalf("down-2's journal summary reads %q, want the host's error", failed)
	}
	webtest.Screenshot(t, ctx, "web-releases")
}
