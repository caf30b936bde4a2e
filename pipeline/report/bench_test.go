package report

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// writeBigCobertura writes a Cobertura report of about size bytes in gocover-cobertura's shape (each line
// under its <method> and again under its <class>), with the root's counts.
func writeBigCobertura(tb testing.TB, size int) (path string, lines int) {
	tb.Helper()
	path = filepath.Join(tb.TempDir(), "coverage.xml")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	const perClass = 200
	classes := size / (perClass * 2 * 40)
	lines = classes * perClass
	fmt.Fprintf(w, `<?xml version="1.0"?>`+"\n"+`<coverage lines-covered="%d" lines-valid="%d" line-rate="0.5" branch-rate="0"><packages><package name="p"><classes>`+"\n", lines/2, lines)
	for c := range classes {
		fmt.Fprintf(w, `<class name="C%d" filename="pkg/file%d.go"><methods><method name="m"><lines>`+"\n", c, c)
		for l := range perClass {
			fmt.Fprintf(w, "<line number=\"%d\" hits=\"%d\"></line>\n", l+1, l%2)
		}
		w.WriteString("</lines></method></methods><lines>\n")
		for l := range perClass {
			fmt.Fprintf(w, "<line number=\"%d\" hits=\"%d\"></line>\n", l+1, l%2)
		}
		w.WriteString("</lines></class>\n")
	}
	w.WriteString("</classes></package></packages></coverage>\n")
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	return path, lines
}

// benchSize is the size of the report BenchmarkCobertura60MB reads.
const benchSize = 60 << 20

// BenchmarkCobertura60MB reads a 60 MB report with the streaming reader and, as the baseline in the same
// run, with the reader it replaced (every line merged into one map by file and number), and reports each
// one's time, allocations and peak live heap, and the streaming reader's as ratios to the baseline's.
func BenchmarkCobertura60MB(b *testing.B) {
	path, lines := writeBigCobertura(b, benchSize)
	streaming := func(rd io.Reader) (int, int, error) {
		c, err := Cobertura(rd)
		return c.LinesCovered, c.LinesValid, err
	}
	var s, base measure
	for b.Loop() {
		s.add(b, path, lines, streaming)
		base.add(b, path, lines, coberturaBaseline)
	}
	n := float64(b.N)
	b.ReportMetric(s.seconds/n, "stream-s/op")
	b.ReportMetric(base.seconds/n, "baseline-s/op")
	b.ReportMetric(s.seconds/base.seconds, "time-ratio")
	b.ReportMetric(s.allocs/n, "stream-allocs/op")
	b.ReportMetric(base.allocs/n, "baseline-allocs/op")
	b.ReportMetric(s.allocs/base.allocs, "allocs-ratio")
	b.ReportMetric(s.peak/(1<<20), "stream-peak-MB")
	b.ReportMetric(base.peak/(1<<20), "baseline-peak-MB")
}

// measure sums what reading a report cost.
type measure struct{ seconds, allocs, peak float64 }

// add reads the report at path with read once and adds what it cost.
func (m *measure) add(b *testing.B, path string, lines int, read func(io.Reader) (int, int, error)) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var before, after runtime.MemStats
	peak := watchHeap()
	runtime.ReadMemStats(&before)
	start := time.Now()
	c, v, err := read(bufio.NewReader(f))
	m.seconds += time.Since(start).Seconds()
	runtime.ReadMemStats(&after)
	m.peak = max(m.peak, float64(peak()))
	m.allocs += float64(after.Mallocs - before.Mallocs)
	if err != nil || v != lines || c != lines/2 {
		b.Fatalf("got %d of %d, %v; want %d of %d", c, v, err, lines/2, lines)
	}
}

// watchHeap samples the live heap every few milliseconds until the returned function is called, which
// reports the largest sample above the heap at the start.
func watchHeap() func() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > base && ms.HeapAlloc-base > peak.Load() {
					peak.Store(ms.HeapAlloc - base)
				}
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-done
		return peak.Load()
	}
}

// coberturaBaseline is the reader before streaming, kept as the benchmark's baseline: every <line> of the
// document merged into one map keyed by (file, number).
func coberturaBaseline(rd io.Reader) (covered, valid int, err error) {
	d := xml.NewDecoder(rd)
	d.Strict = true
	type key struct{ file, line string }
	lines := map[key]bool{}
	var file string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, 0, err
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch el.Name.Local {
		case "class":
			file, _ = attr(el, "filename")
		case "line":
			number, _ := attr(el, "number")
			hits, err := parseHits(el)
			if err != nil {
				return 0, 0, err
			}
			k := key{file, number}
			lines[k] = lines[k] || hits
		}
	}
	for _, hit := range lines {
		if hit {
			covered++
		}
	}
	return covered, len(lines), nil
}
