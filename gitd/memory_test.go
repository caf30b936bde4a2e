package gitd_test

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// memoryWatch samples this process's own memory (the server runs in it; git runs in children) while a
// test runs: its resident set (VmRSS, and VmHWM, the kernel's peak, reset at the start where the kernel
// allows) and the Go heap's live objects.
type memoryWatch struct {
	baseRSS, baseHeap uint64
	hwmReset          bool

	mu                 sync.Mutex
	peakRSS, peakHeap  uint64
	stopOnce, finished chan struct{}
}

// watchMemory starts sampling every 5 ms, from a baseline taken after a garbage collection.
func watchMemory(t *testing.T) *memoryWatch {
	t.Helper()
	runtime.GC()
	w := &memoryWatch{stopOnce: make(chan struct{}), finished: make(chan struct{})}
	// "5" resets VmHWM to the current resident set (Linux 4.0 and later).
	w.hwmReset = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	w.baseRSS, _ = procStatus(t, "VmRSS")
	w.baseHeap = liveHeap()
	w.peakRSS, w.peakHeap = w.baseRSS, w.baseHeap
	go func() {
		defer close(w.finished)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stopOnce:
				return
			case <-tick.C:
				rss, _ := procStatus(t, "VmRSS")
				heap := liveHeap()
				w.mu.Lock()
				w.peakRSS, w.peakHeap = max(w.peakRSS, rss), max(w.peakHeap, heap)
				w.mu.Unlock()
			}
		}
	}()
	return w
}

// stop ends the sampling and returns how far the resident set and the heap rose above the baseline.
func (w *memoryWatch) stop(t *testing.T) (rssGrowth, heapGrowth uint64) {
	t.Helper()
	close(w.stopOnce)
	<-w.finished
	peakRSS := w.peakRSS
	if w.hwmReset {
		if hwm, ok := procStatus(t, "VmHWM"); ok {
			peakRSS = max(peakRSS, hwm)
		}
	}
	return peakRSS - min(peakRSS, w.baseRSS), w.peakHeap - min(w.peakHeap, w.baseHeap)
}

// procStatus reads a "kB" field of /proc/self/status, in bytes.
func procStatus(t *testing.T, field string) (uint64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Errorf("read /proc/self/status: %v", err)
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		return kb << 10, err == nil
	}
	return 0, false
}

// liveHeap is the bytes of live and not yet swept heap objects.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
