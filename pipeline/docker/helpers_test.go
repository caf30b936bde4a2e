package docker_test

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/docker"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
)

// build is one build's worth of engine objects for a test, torn down and checked when the test ends.
type build struct {
	e       *docker.Engine
	id      baleen.BuildID
	busybox string
}

// newBuild returns a build with a unique id and the busybox image ready.
func newBuild(t *testing.T) build {
	t.Helper()
	e := dockertest.Engine(t)
	b := build{e: e, id: dockertest.BuildID(t), busybox: dockertest.BusyboxImage(t)}
	dockertest.Cleanup(t, e, b.id)
	return b
}

// setup creates the build's network.
func (b build) setup(t *testing.T) {
	t.Helper()
	if err := b.e.Setup(t.Context(), b.id); err != nil {
		t.Fatalf("Setup: %v", err)
	}
}

// image builds an image from a context holding dockerfile (whose first line FROM busybox is rewritten to
// the test busybox image) and the extra files, and returns its reference.
func (b build) image(t *testing.T, name, dockerfile string, extra fstest.MapFS) string {
	t.Helper()
	fsys := fstest.MapFS{"Dockerfile": {Data: []byte(b.dockerfile(dockerfile)), Mode: 0o644}}
	for k, v := range extra {
		fsys[k] = v
	}
	ref := b.id.ImageTag("baleen-test/" + name)
	req := baleen.ImageRequest{Image: baleen.ImageBuild{Name: name}, Context: fsys, Ref: ref}
	var out strings.Builder
	if err := b.e.BuildImage(t.Context(), b.id, req, &out); err != nil {
		t.Fatalf("BuildImage %s: %v\noutput:\n%s", name, err, out.String())
	}
	return ref
}

// dockerfile puts the test busybox image in place of "busybox" in FROM lines.
func (b build) dockerfile(text string) string {
	return strings.ReplaceAll(text, "FROM busybox", "FROM "+b.busybox)
}

// run runs a busybox container with a shell script to its end and returns its id, output and exit code.
func (b build) run(t *testing.T, name, script string) (string, string, int) {
	t.Helper()
	var out strings.Builder
	id, code, err := b.e.Run(t.Context(), b.id, baleen.ContainerSpec{
		Name: name, Role: "test", Image: b.busybox, Cmd: []string{"sh", "-c", script},
	}, &out)
	if err != nil {
		t.Fatalf("Run %s: %v\noutput:\n%s", name, err, out.String())
	}
	return id, out.String(), code
}

// watch is an io.Writer that remembers what was written and says when a string first shows up.
type watch struct {
	mu   sync.Mutex
	buf  strings.Builder
	want string
	seen chan struct{}
	once sync.Once
}

func newWatch(want string) *watch { return &watch{want: want, seen: make(chan struct{})} }

func (w *watch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *watch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// waitSeen waits until w has seen its string, failing the test at the deadline.
func (w *watch) waitSeen(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case <-w.seen:
	case <-time.After(timeout):
		t.Fatalf("output: got %q after %s, want it to contain %q", w.String(), timeout, w.want)
	}
}

// eventually polls cond until it holds, failing the test with cond's last word at the deadline.
func eventually(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, last)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("test ended while waiting: %s", last)
		case <-tick.C:
		}
	}
}

// readTar lists a tar stream: "name/" for directories, "name: content" for files, "name -> target" for
// links, each with its permission bits.
func readTar(t *testing.T, r io.Reader) []string {
	t.Helper()
	var got []string
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		mode := fs.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			got = append(got, fmt.Sprintf("%s %v", strings.TrimSuffix(hdr.Name, "/")+"/", mode))
		case tar.TypeSymlink:
			got = append(got, fmt.Sprintf("%s -> %s", hdr.Name, hdr.Linkname))
		default:
			body, err := io.ReadAll(tr)
			if err != nil {
				t.Fatalf("read %s from tar: %v", hdr.Name, err)
			}
			got = append(got, fmt.Sprintf("%s %v: %s", hdr.Name, mode, body))
		}
	}
}

// copyFrom copies p out of container ctr and lists it.
func (b build) copyFrom(t *testing.T, ctr, p string) []string {
	t.Helper()
	rc, err := b.e.CopyFrom(t.Context(), ctr, p)
	if err != nil {
		t.Fatalf("CopyFrom %s: %v", p, err)
	}
	defer rc.Close()
	return readTar(t, rc)
}
