package web

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
)

// timeGet measures one GET of path and fails on anything but 200.
func timeGet(b *testing.B, c *http.Client, u string) time.Duration {
	start := time.Now()
	resp, err := c.Get(u)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || n == 0 {
		b.Fatalf("%s: %s, %d bytes", u, resp.Status, n)
	}
	return time.Since(start)
}

// compare reports the page's and the JSON's time per request and their ratio (x-json: 1.0 is as fast as the
// same data as JSON, fetched from the API urls given).
func compare(b *testing.B, c *http.Client, page string, json ...string) {
	var pt, jt time.Duration
	for b.Loop() {
		pt += timeGet(b, c, page)
		for _, u := range json {
			jt += timeGet(b, c, u)
		}
	}
	b.ReportMetric(float64(pt.Milliseconds())/float64(b.N), "page-ms")
	b.ReportMetric(float64(jt.Milliseconds())/float64(b.N), "json-ms")
	b.ReportMetric(float64(pt)/float64(jt), "x-json")
}

// BenchmarkProjectPage renders the project page of a project with 10,000 builds, against its builds as
// JSON from the API: the latest chartBuilds of them, the records the page reads (its list shows the first
// 50, its charts all of them).
func BenchmarkProjectPage(b *testing.B) {
	f := newFixture(b, func(c *Config) { c.Public = true })
	ctx := context.Background()
	if err := f.st.CreateProject(ctx, baleen.Project{Name: "big"}); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	for i := range 10_000 {
		st := []baleen.Status{baleen.StatusPassed, baleen.StatusFailed}[i%7/6]
		c := float64(60 + i%30)
		start, end := now.Add(-time.Hour), now.Add(-time.Hour+time.Duration(30+i%90)*time.Second)
		bd, err := f.st.CreateBuild(ctx, baleen.Build{Project: "big", Branch: []string{"main", "dev", "feature"}[i%3], Commit: strings.Repeat("c", 40), Pusher: "SHA256:x", Created: now})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.st.UpdateBuild(ctx, "big", bd.Number, baleen.BuildPatch{Status: &st, Started: &start, Finished: &end,
			Report: &baleen.TestReport{Passed: 100 + i%10, Failed: i % 7 / 6, Coverage: &c},
			Stages: []baleen.StageResult{{Stage: baleen.StageBuild, Status: baleen.StatusPassed, Duration: time.Second}, {Stage: baleen.StageTest, Status: st, Duration: time.Minute}}}); err != nil {
			b.Fatal(err)
		}
	}
	c := f.client("")
	compare(b, c, f.ts.URL+"/p/big", f.ts.URL+"/api/v1/projects/big/builds?limit="+itoa(chartBuilds))
}

// BenchmarkBuildPageLongLog renders the first screen of a build with a 100 MB log, against the same data
// from the API: the build as JSON and the log's tail that the page shows.
func BenchmarkBuildPageLongLog(b *testing.B) {
	f := newFixture(b, func(c *Config) { c.Public = true })
	bd := f.build("big", "main", baleen.StatusPassed, &baleen.TestReport{Passed: 10}, "")
	w, err := f.st.LogWriterLimit(context.Background(), "big", bd.Number, 128<<20) // above the default limit
	if err != nil {
		b.Fatal(err)
	}
	line := "\x1b[32mok\x1b[0m   github.com/example/project/pkg/some/package   0.123s   coverage: 81.2% of statements\n"
	chunk := strings.Repeat(line, (1<<20)/len(line))
	for range 100 {
		if _, err := io.WriteString(w, chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	c := f.client("")
	size, err := f.st.LogSize(context.Background(), "big", bd.Number)
	if err != nil {
		b.Fatal(err)
	}
	tail := max(size-pageLogLimit, 0)
	b.Logf("log of %d bytes", size)
	compare(b, c, f.ts.URL+"/p/big/b/1", f.ts.URL+"/api/v1/projects/big/builds/1", f.ts.URL+"/api/v1/projects/big/builds/1/log?offset="+strconv.FormatInt(tail, 10))
}

// BenchmarkLiveViewers is the worst case of live viewing: log throughput with nothing else to do. It times a
// writer that does nothing but put out 20,000 lines (written to the stored log and published as events, as
// the stage runner does, in a tight loop) with 100 browsers following it live against none (x-unwatched: 1.0
// is no slower than with nobody watching). The 100 readers run in this process and share its CPU with the
// writer. The wall time of a real build with 100 viewers is cmd/baleen's BenchmarkLiveViewersBuild.
func BenchmarkLiveViewers(b *testing.B) {
	f := newFixture(b, func(c *Config) { c.Public = true })
	var received atomic.Int64
	produce := func(viewers int) time.Duration {
		bd := f.build("live", "main", baleen.StatusRunning, nil, "")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ready := make(chan struct{}, viewers)
		var wg sync.WaitGroup
		var empty atomic.Int32
		for range viewers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequestWithContext(ctx, "GET", f.ts.URL+"/p/live/b/"+itoa(bd.Number)+"/live", nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					empty.Add(1)
					ready <- struct{}{}
					return
				}
				defer resp.Body.Close()
				ready <- struct{}{}
				n, _ := io.Copy(io.Discard, resp.Body)
				received.Add(n)
				if n == 0 {
					empty.Add(1)
				}
			}()
		}
		for range viewers {
			<-ready
		}
		w, err := f.st.LogWriter(ctx, "live", bd.Number)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		var off int64
		for i := range 20_000 {
			line := "step " + itoa(i) + ": compiling github.com/example/project/pkg/thing"
			if _, err := io.WriteString(w, line+"\n"); err != nil {
				b.Fatal(err)
			}
			f.bus.Publish(baleen.Event{Kind: baleen.EventLog, Project: "live", Build: bd.Number, Text: line, Offset: off})
			off += int64(len(line)) + 1
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		st := baleen.StatusPassed
		if _, err := f.st.UpdateBuild(ctx, "live", bd.Number, baleen.BuildPatch{Status: &st}); err != nil {
			b.Fatal(err)
		}
		f.bus.Publish(baleen.Event{Kind: baleen.EventBuildFinished, Project: "live", Build: bd.Number, Status: st})
		wg.Wait() // each viewer reads to the build's end
		if n := empty.Load(); n > 0 {
			b.Fatalf("%d of %d viewers got nothing", n, viewers)
		}
		return took
	}
	var alone, watched time.Duration
	for b.Loop() {
		alone += produce(0)
		watched += produce(100)
	}
	b.ReportMetric(float64(alone.Milliseconds())/float64(b.N), "unwatched-ms")
	b.ReportMetric(float64(watched.Milliseconds())/float64(b.N), "watched-ms")
	b.ReportMetric(float64(watched)/float64(alone), "x-unwatched")
	b.ReportMetric(float64(received.Load())/float64(b.N*100)/1024, "KB/viewer")
}
