package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
)

// liveLines is how many lines the benchmarked build's test stage prints.
const liveLines = 20_000

// liveViewers is how many browsers follow the watched build.
const liveViewers = 100

// liveBenchFiles is a project that builds a busybox image and whose test prints liveLines lines from a
// shell loop. salt changes with every push, so that each one is a new commit.
func liveBenchFiles(image string, salt int) map[string]string {
	return map[string]string{
		"Dockerfile": "FROM {{busybox}}\nWORKDIR /app\nCOPY . /app\n",
		"baleen.yml": "build:\n  " + image + ": .\ntest:\n  command: [/app/test.sh]\n",
		"test.sh": fmt.Sprintf("#!/bin/sh\n# push %d\ni=0\nwhile [ $i -lt %d ]; do\n"+
			"  echo \"step $i: compiling github.com/example/project/pkg/thing\"\n  i=$((i+1))\ndone\n", salt, liveLines),
		"salt": fmt.Sprint(salt),
	}
}

// BenchmarkLiveViewersBuild times a real build, as the pusher sees it (the wall time of `git push` to a
// running `baleen serve`: the image built FROM busybox, the test stage printing 20,000 lines that stream
// back as remote: lines), with 100 browsers following its live log over the web side against the same push
// with nobody watching, alternately in one run (x-unwatched: 1.0 is no slower than unwatched). Each viewer
// connects to /p/<project>/b/<n>/live as soon as the build exists and reads the stream to its end. It also
// reports the bytes each viewer got and the CPU time `baleen serve` spent per push, watched and unwatched:
// on a busy machine a steadier measure of the viewers' cost than the wall time.
func BenchmarkLiveViewersBuild(b *testing.B) {
	s := newServer(b)
	base := s.startWeb()
	const project = "livebench"
	instance, err := os.ReadFile(s.data + "/instance")
	if err != nil {
		b.Fatal(err)
	}
	image := fmt.Sprintf("baleen-livebench-%d", time.Now().UnixNano())
	r := s.newRepo(liveBenchFiles(image, 0))
	r.git("remote", "add", "baleen", s.url(project))
	env := append(append(os.Environ(), gitEnv(s.home)...), "GIT_SSH_COMMAND="+s.gitSSH(s.key))
	number := 0
	var received int64
	var cpu [2]time.Duration // the server's CPU time in the unwatched and the watched pushes
	push := func(viewers int) time.Duration {
		number++
		dockertest.Cleanup(b, s.engine, baleen.BuildID(fmt.Sprintf("%s-%d-%s", project, number, strings.TrimSpace(string(instance)))))
		r.write(liveBenchFiles(image, number))
		r.commit(fmt.Sprintf("push %d", number))
		ctx, cancel := context.WithTimeout(b.Context(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "git", "push", "-q", "baleen", "main")
		cmd.Dir, cmd.Env = r.dir, env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cpu0 := cpuTime(b, s.cmd.Process.Pid)
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		// Both pushes look for their build the same way; only the watched one connects viewers.
		waitBuild(ctx, b, base, project, number)
		vs := watch(ctx, b, base, project, number, viewers)
		err := cmd.Wait()
		took := time.Since(start)
		if err != nil {
			b.Fatalf("push %d: %v\n%s", number, err, out.String())
		}
		received += vs.check()
		cpu[min(viewers, 1)] += cpuTime(b, s.cmd.Process.Pid) - cpu0
		return took
	}
	var alone, watched time.Duration
	for b.Loop() {
		alone += push(0)
		watched += push(liveViewers)
	}
	b.ReportMetric(float64(alone.Milliseconds())/float64(b.N), "unwatched-ms")
	b.ReportMetric(float64(watched.Milliseconds())/float64(b.N), "watched-ms")
	b.ReportMetric(float64(watched)/float64(alone), "x-unwatched")
	b.ReportMetric(float64(received)/float64(b.N*liveViewers)/1024, "KB/viewer")
	b.ReportMetric(float64(cpu[0].Milliseconds())/float64(b.N), "serve-cpu-unwatched-ms")
	b.ReportMetric(float64(cpu[1].Milliseconds())/float64(b.N), "serve-cpu-watched-ms")
}

// cpuTime is the CPU time (user and system) a process has used so far, from /proc/PID/stat.
func cpuTime(b *testing.B, pid int) time.Duration {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name, which is in parentheses and may hold spaces: utime and stime are
	// the 12th and 13th, in clock ticks of 10 ms.
	_, rest, _ := bytes.Cut(data, []byte(") "))
	f := strings.Fields(string(rest))
	if len(f) < 13 {
		b.Fatalf("/proc/%d/stat: %q", pid, data)
	}
	var utime, stime int64
	fmt.Sscan(f[11], &utime)
	fmt.Sscan(f[12], &stime)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// waitBuild polls the API until build number of project exists.
func waitBuild(ctx context.Context, b *testing.B, base, project string, number int) {
	b.Helper()
	u := fmt.Sprintf("%s/api/v1/projects/%s/builds/%d", base, project, number)
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			b.Fatalf("build %d of %s never appeared: %v", number, project, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// viewers are browsers following one build's live log.
type viewers struct {
	b       *testing.B
	wg      sync.WaitGroup
	mu      sync.Mutex
	results []viewerResult
}

type viewerResult struct {
	bytes int64
	done  bool
	err   error
}

// watch connects n viewers to the live log of a build; each reads the stream to its end.
func watch(ctx context.Context, b *testing.B, base, project string, number, n int) *viewers {
	vs := &viewers{b: b}
	u := fmt.Sprintf("%s/p/%s/b/%d/live", base, project, number)
	for range n {
		vs.wg.Add(1)
		go func() {
			defer vs.wg.Done()
			res := follow(ctx, u)
			vs.mu.Lock()
			vs.results = append(vs.results, res)
			vs.mu.Unlock()
		}()
	}
	return vs
}

// follow reads a live stream to its end and says how many bytes it had and whether the last event was
// the build's end.
func follow(ctx context.Context, u string) viewerResult {
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return viewerResult{err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return viewerResult{err: fmt.Errorf("%s: %s", u, resp.Status)}
	}
	var res viewerResult
	buf := make([]byte, 64<<10)
	var tail []byte
	for {
		k, err := resp.Body.Read(buf)
		res.bytes += int64(k)
		tail = append(tail, buf[:k]...)
		if len(tail) > 4096 {
			tail = tail[len(tail)-4096:]
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			res.err = err
			return res
		}
	}
	res.done = bytes.Contains(tail, []byte("event: done\n"))
	return res
}

// check waits for every viewer's stream to end, fails the benchmark when one got nothing or did not see
// the build end, and returns the bytes they got in all.
func (vs *viewers) check() int64 {
	vs.b.Helper()
	vs.wg.Wait()
	var n int64
	for i, res := range vs.results {
		if res.err != nil || res.bytes == 0 || !res.done {
			vs.b.Fatalf("viewer %d: %d bytes, saw the end %v, err %v", i, res.bytes, res.done, res.err)
		}
		n += res.bytes
	}
	return n
}
