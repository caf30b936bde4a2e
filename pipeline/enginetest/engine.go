package enginetest

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/baleen-ci/baleen"
)

// TestFunc plays a test container: it writes the container's output to out and returns its exit code, or
// ctx's error when ctx ends first.
type TestFunc func(ctx context.Context, id baleen.BuildID, c baleen.ContainerSpec, out io.Writer) (int, error)

// Engine is a scripted baleen.Engine and image store. Set its script fields before the first build; its
// methods are safe for concurrent use.
type Engine struct {
	// FailBuild maps an image name (baleen.yml's build key) to the error its build fails with.
	FailBuild map[string]string
	// Crash maps a dependency's name to the exit code it dies with before it is ready.
	Crash map[string]int
	// Test plays the test container; when nil, it prints "tests ran" and exits 0.
	Test TestFunc
	// PingErr, when set, is what Ping returns.
	PingErr error
	// TeardownErr, when set, is what Teardown returns, having removed nothing; safe to change between
	// builds through SetTeardownErr.
	TeardownErr error
	// TeardownHold, when set, holds every Teardown until it is closed or the call's context ends, as a stuck
	// engine call would.
	TeardownHold chan struct{}

	mu         sync.Mutex
	images     []*baleen.Image
	containers map[string]container
	torn       []baleen.BuildID
	calls      []string
	seq        int
}

type container struct {
	build baleen.BuildID
	spec  baleen.ContainerSpec
	state baleen.ContainerState
}

// New returns an Engine that passes everything.
func New() *Engine { return &Engine{containers: map[string]container{}} }

var (
	_ baleen.Engine     = (*Engine)(nil)
	_ baleen.ImageStore = (*Engine)(nil)
)

func (e *Engine) call(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, fmt.Sprintf(format, args...))
}

// Calls lists the calls made so far, one line each ("BuildImage app", "Teardown ID", ...).
func (e *Engine) Calls() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

// Ping returns PingErr.
func (e *Engine) Ping(context.Context) error { return e.PingErr }

// BuildImage makes req.Ref, labelled with the build id, or fails as FailBuild says.
func (e *Engine) BuildImage(ctx context.Context, id baleen.BuildID, req baleen.ImageRequest, out io.Writer) error {
	e.call("BuildImage %s", req.Image.Name)
	if msg, ok := e.FailBuild[req.Image.Name]; ok {
		fmt.Fprintln(out, msg)
		return fmt.Errorf("build failed: %s", msg)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	fmt.Fprintf(out, "built %s\n", req.Ref)
	e.AddImage(req.Ref, map[string]string{baleen.LabelBuild: string(id)})
	return nil
}

// AddImage puts an image tagged ref with labels in the store.
func (e *Engine) AddImage(ref string, labels map[string]string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	e.images = append(e.images, &baleen.Image{ID: "sha256:" + strconv.Itoa(e.seq), Tags: []string{ref}, Labels: labels})
}

// EnsureImage succeeds: every outside image is present.
func (e *Engine) EnsureImage(context.Context, string, io.Writer) error { return nil }

// Setup succeeds.
func (e *Engine) Setup(_ context.Context, id baleen.BuildID) error {
	e.call("Setup %s", id)
	return nil
}

// Start starts a container that is running and ready, or has died as Crash says.
func (e *Engine) Start(_ context.Context, id baleen.BuildID, c baleen.ContainerSpec) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	cid := "c" + strconv.Itoa(e.seq)
	st := baleen.ContainerState{Running: true}
	if code, ok := e.Crash[c.Name]; ok {
		st = baleen.ContainerState{ExitCode: code}
	}
	e.containers[cid] = container{build: id, spec: c, state: st}
	e.calls = append(e.calls, "Start "+c.Name)
	return cid, nil
}

// Inspect reports a container's state.
func (e *Engine) Inspect(_ context.Context, cid string) (baleen.ContainerState, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.containers[cid]
	if !ok {
		return baleen.ContainerState{}, fmt.Errorf("container %s: %w", cid, baleen.ErrNotFound)
	}
	return c.state, nil
}

// Exec succeeds at once.
func (e *Engine) Exec(context.Context, string, []string, io.Writer) (int, error) { return 0, nil }

// Logs writes one line naming the container.
func (e *Engine) Logs(_ context.Context, cid string, _ int, _ bool, w io.Writer) error {
	fmt.Fprintf(w, "log of %s\n", cid)
	return nil
}

// Run plays the test container with Test.
func (e *Engine) Run(ctx context.Context, id baleen.BuildID, c baleen.ContainerSpec, out io.Writer) (string, int, error) {
	e.mu.Lock()
	e.seq++
	cid := "c" + strconv.Itoa(e.seq)
	e.containers[cid] = container{build: id, spec: c}
	e.calls = append(e.calls, "Run "+c.Name)
	test := e.Test
	e.mu.Unlock()
	if test == nil {
		fmt.Fprintln(out, "tests ran")
		return cid, 0, nil
	}
	code, err := test(ctx, id, c, out)
	return cid, code, err
}

// CopyFrom finds nothing: no path exists in a fake container.
func (e *Engine) CopyFrom(_ context.Context, cid, path string) (io.ReadCloser, error) {
	return nil, fmt.Errorf("%s in %s: %w", path, cid, baleen.ErrNotFound)
}

// Tag gives src's image the further reference ref.
func (e *Engine) Tag(_ context.Context, src, ref string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	img := e.find(src)
	if img == nil {
		return fmt.Errorf("tag %s: image %s: %w", ref, src, baleen.ErrNotFound)
	}
	for _, other := range e.images {
		other.Tags = slices.DeleteFunc(other.Tags, func(t string) bool { return t == ref })
	}
	img.Tags = append(img.Tags, ref)
	return nil
}

// Teardown removes the build's containers and remembers that it ran.
func (e *Engine) Teardown(ctx context.Context, id baleen.BuildID) error {
	if e.TeardownHold != nil {
		select {
		case <-e.TeardownHold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.TeardownErr != nil {
		e.calls = append(e.calls, "Teardown "+string(id)+" failed")
		return e.TeardownErr
	}
	for cid, c := range e.containers {
		if c.build == id {
			delete(e.containers, cid)
		}
	}
	e.torn = append(e.torn, id)
	e.calls = append(e.calls, "Teardown "+string(id))
	return nil
}

// SetTeardownErr changes TeardownErr while builds run.
func (e *Engine) SetTeardownErr(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.TeardownErr = err
}

// TornDown lists the builds torn down, in order.
func (e *Engine) TornDown() []baleen.BuildID {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.torn)
}

// Containers counts the containers left.
func (e *Engine) Containers() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.containers)
}

func (e *Engine) find(ref string) *baleen.Image {
	for _, img := range e.images {
		if slices.Contains(img.Tags, ref) {
			return img
		}
	}
	return nil
}

// ImageExists reports whether ref is tagged.
func (e *Engine) ImageExists(_ context.Context, ref string) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.find(ref) != nil, nil
}

// ListImages lists the images with label ("key" or "key=value").
func (e *Engine) ListImages(_ context.Context, label string) ([]baleen.Image, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	key, value, hasValue := strings.Cut(label, "=")
	var out []baleen.Image
	for _, img := range e.images {
		v, ok := img.Labels[key]
		if ok && (!hasValue || v == value) {
			out = append(out, baleen.Image{ID: img.ID, Tags: slices.Clone(img.Tags), Labels: img.Labels})
		}
	}
	return out, nil
}

// RemoveImage removes the reference ref, and the image with its last reference.
func (e *Engine) RemoveImage(_ context.Context, ref string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, "RemoveImage "+ref)
	img := e.find(ref)
	if img == nil {
		return nil
	}
	img.Tags = slices.DeleteFunc(img.Tags, func(t string) bool { return t == ref })
	if len(img.Tags) == 0 {
		e.images = slices.DeleteFunc(e.images, func(i *baleen.Image) bool { return i == img })
	}
	return nil
}
