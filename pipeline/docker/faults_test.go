package docker_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/docker"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
)

// hangingProxy is a fault injected at the engine's boundary: a reverse proxy, on a unix socket, in front of
// the real engine, that holds every container create until its client gives up while hang is set, as an
// engine whose runc hangs would.
type hangingProxy struct {
	addr string
	hang atomic.Bool
	held atomic.Int32
}

func newHangingProxy(t *testing.T, engineHost string) *hangingProxy {
	t.Helper()
	u, err := url.Parse(engineHost)
	if err != nil || u.Scheme != "unix" {
		t.Skipf("the proxy needs an engine on a unix socket, got %q", engineHost)
	}
	dir, err := os.MkdirTemp("", "baleen-proxy")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	p := &hangingProxy{addr: "unix://" + sock}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = "http", "docker"
		},
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", u.Path)
		}},
		FlushInterval: -1,
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.hang.Load() && strings.HasSuffix(r.URL.Path, "/containers/create") {
			p.held.Add(1)
			<-r.Context().Done()
			return
		}
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return p
}

func engineHost() string {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return "unix:///var/run/docker.sock"
}

func TestHangingCreateIsCancelled(t *testing.T) {
	t.Parallel()
	real := newBuild(t)
	p := newHangingProxy(t, engineHost())
	e := dockertest.EngineWith(t, docker.Options{Name: "proxied", CallTimeout: 10 * time.Second}, client.WithHost(p.addr))
	dockertest.Cleanup(t, e, real.id)
	if err := e.Setup(t.Context(), real.id); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	spec := baleen.ContainerSpec{Role: "test", Image: real.busybox, Cmd: []string{"echo", "ran"}}

	p.hang.Store(true)
	done := make(chan error, 1)
	go func() {
		_, _, err := e.Run(t.Context(), real.id, spec, &strings.Builder{})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, baleen.ErrUnavailable) || !strings.Contains(err.Error(), "engine proxied stopped answering") {
			t.Errorf("Run with a hanging create: got %v, want ErrUnavailable saying the engine stopped answering", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run with a hanging create did not return within a minute; its call deadline is 10s")
	}
	if p.held.Load() == 0 {
		t.Fatal("the proxy held no create: the fault was not injected")
	}

	// The next run of the same build goes through.
	p.hang.Store(false)
	var out strings.Builder
	_, code, err := e.Run(t.Context(), real.id, spec, &out)
	if err != nil || code != 0 || out.String() != "ran\n" {
		t.Errorf("Run after the fault: got code %d, error %v, output %q; want 0, none, \"ran\\n\"", code, err, out.String())
	}
}

func TestFrozenEngineCallsFail(t *testing.T) {
	// Not parallel: it freezes the second engine for everyone.
	e := dockertest.SecondEngine(t, docker.Options{Name: "second", CallTimeout: 20 * time.Second, WatchInterval: time.Second})
	bb := dockertest.BusyboxImageOn(t, e)
	id := dockertest.BuildID(t)
	dockertest.Cleanup(t, e, id)
	pid := dockertest.SecondEnginePID(t)
	// Registered after Cleanup, so run before it: the engine must answer again for the teardown.
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	if err := e.Setup(t.Context(), id); err != nil {
		t.Fatalf("Setup: %v", err)
	}

	w := newWatch("running")
	done := make(chan error, 1)
	go func() {
		_, _, err := e.Run(t.Context(), id, baleen.ContainerSpec{Role: "test", Image: bb,
			Cmd: []string{"sh", "-c", "echo running; sleep 300"}}, w)
		done <- err
	}()
	select {
	case <-w.seen:
	case err := <-done:
		t.Fatalf("Run ended before the engine was frozen: %v; output %q", err, w.String())
	case <-time.After(time.Minute):
		t.Fatalf("Run: no output after a minute, want %q", w.want)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP dockerd: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, baleen.ErrUnavailable) || !strings.Contains(err.Error(), "engine second stopped answering") {
			t.Errorf("Run on a frozen engine: got %v, want ErrUnavailable saying the engine stopped answering", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run on a frozen engine did not return within a minute; its deadline is 1s + 10s")
	}
	for name, f := range map[string]func(ctx context.Context) error{
		"Inspect":  func(ctx context.Context) error { _, err := e.Inspect(ctx, "x"); return err },
		"Setup":    func(ctx context.Context) error { return e.Setup(ctx, id) },
		"Teardown": func(ctx context.Context) error { return e.Teardown(ctx, id) },
		"Ping":     func(ctx context.Context) error { return e.Ping(ctx) },
	} {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		err := f(ctx)
		if ctx.Err() != nil {
			t.Errorf("%s on a frozen engine: still waiting when the test's own minute ran out", name)
		}
		cancel()
		if !errors.Is(err, baleen.ErrUnavailable) || !strings.Contains(err.Error(), "stopped answering") {
			t.Errorf("%s on a frozen engine: got %v, want ErrUnavailable saying the engine stopped answering", name, err)
		}
	}
}
