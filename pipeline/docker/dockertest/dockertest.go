package dockertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/docker"
)

// BusyboxPath is where the static busybox that BusyboxImage installs is read from (Debian's
// busybox-static).
const BusyboxPath = "/bin/busybox"

// BusyboxRepo is the repository of the image BusyboxImage builds; its tag is a digest of the image's
// content.
const BusyboxRepo = "baleen-test/busybox"

// busyboxBuild is the BuildID the busybox image is built under; Cleanup never touches it.
const busyboxBuild baleen.BuildID = "dockertest-busybox"

// busyboxDockerfile installs busybox as /bin/busybox with a symbolic link in /bin for every applet,
// /bin/sh among them, and makes /tmp.
const busyboxDockerfile = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin && mkdir -m 1777 /tmp"]
`

// cleanupTimeout bounds the removals Cleanup makes after a test.
const cleanupTimeout = 2 * time.Minute

// Engine returns an Engine on the engine the environment names (DOCKER_HOST, or the local socket). When
// that engine does not answer, the test fails if the environment variable CI is set and is skipped
// otherwise. Under -short (no Docker, no network) it skips the test at once. The Engine is closed when the test ends; its warnings go to the test's output.
func Engine(t testing.TB) *docker.Engine {
	t.Helper()
	return EngineWith(t, docker.Options{})
}

// EngineWith is Engine with opts (and a logger to the test's output when opts has none), and with the
// client options extra added after the environment's (such as client.WithHost for another engine).
func EngineWith(t testing.TB, opts docker.Options, extra ...client.Opt) *docker.Engine {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a Docker engine; skipped under -short")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	c, err := client.New(append([]client.Opt{client.FromEnv}, extra...)...)
	if err != nil {
		unreachable(t, err)
	}
	e := docker.New(c, opts)
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("close docker engine: %v", err)
		}
	})
	// Not t.Context() alone: Engine may be called from a cleanup, after the test's context has ended.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 15*time.Second)
	defer cancel()
	if err := e.Ping(ctx); err != nil {
		unreachable(t, err)
	}
	return e
}

// unreachable fails the test when CI is set and skips it otherwise.
func unreachable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("docker is required when CI is set: %v", err)
	}
	t.Skipf("docker is not reachable, skipping (set CI to make this a failure): %v", err)
}

// BusyboxImage returns the reference of an image built FROM scratch with the static busybox of the host
// as /bin/busybox, its applets (sh, wget, nc, httpd, ...) linked in /bin, and a /tmp. The image is tagged with a
// digest of its content and built only when no image has that tag yet, so it is built once and shared by
// every test and every run; it is never removed by Cleanup.
func BusyboxImage(t testing.TB) string {
	t.Helper()
	return BusyboxImageOn(t, Engine(t))
}

// BusyboxImageOn is BusyboxImage on the engine e.
func BusyboxImageOn(t testing.TB, e *docker.Engine) string {
	t.Helper()
	bin, err := os.ReadFile(BusyboxPath)
	if err != nil {
		t.Fatalf("read static busybox (apt-get install busybox-static): %v", err)
	}
	h := sha256.New()
	io.WriteString(h, busyboxDockerfile)
	h.Write(bin)
	ref := BusyboxRepo + ":" + hex.EncodeToString(h.Sum(nil))[:16]

	ctx := t.Context()
	_, err = e.Client().ImageInspect(ctx, ref)
	if err == nil {
		return ref
	}
	if !cerrdefs.IsNotFound(err) {
		t.Fatalf("inspect image %s: %v", ref, err)
	}
	fsys := fstest.MapFS{
		"Dockerfile": {Data: []byte(busyboxDockerfile), Mode: 0o644},
		"busybox":    {Data: bin, Mode: 0o755},
	}
	req := baleen.ImageRequest{
		Image:   baleen.ImageBuild{Name: BusyboxRepo, Dockerfile: "Dockerfile"},
		Context: fsys,
		Ref:     ref,
	}
	var out strings.Builder
	if err := e.BuildImage(ctx, busyboxBuild, req, &out); err != nil {
		t.Fatalf("build %s: %v\noutput:\n%s", ref, err, out.String())
	}
	return ref
}

// BuildID returns a BuildID unique to this run of the test: "t-", the test's name in lowercase with
// anything not allowed in a BuildID turned into '-', cut short, and a random suffix.
func BuildID(t testing.TB) baleen.BuildID {
	t.Helper()
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, t.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	id, err := baleen.ParseBuildID("t-" + name + "-" + strings.ToLower(rand.Text()[:8]))
	if err != nil {
		t.Fatalf("make build id: %v", err)
	}
	return id
}

// Leftovers returns the containers, networks and volumes that still carry the label baleen.build=id, as
// "container/<id>", "network/<id>" and "volume/<name>".
func Leftovers(t testing.TB, id baleen.BuildID) []string {
	t.Helper()
	return leftovers(t, Engine(t).Client(), id)
}

func leftovers(t testing.TB, c client.APIClient, id baleen.BuildID) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), cleanupTimeout)
	defer cancel()
	filter := make(client.Filters).Add("label", baleen.LabelBuild+"="+string(id))
	var left []string
	cs, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		t.Fatalf("list containers of build %s: %v", id, err)
	}
	for _, x := range cs.Items {
		left = append(left, "container/"+x.ID)
	}
	ns, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		t.Fatalf("list networks of build %s: %v", id, err)
	}
	for _, x := range ns.Items {
		left = append(left, "network/"+x.ID)
	}
	vs, err := c.VolumeList(ctx, client.VolumeListOptions{Filters: filter})
	if err != nil {
		t.Fatalf("list volumes of build %s: %v", id, err)
	}
	for _, x := range vs.Items {
		left = append(left, "volume/"+x.Name)
	}
	return left
}

// Cleanup arranges for build id to be torn down with e when the test ends, for the images built under it
// (labelled baleen.build=id) to be removed, and for the test to fail if anything labelled with id is left.
func Cleanup(t testing.TB, e *docker.Engine, id baleen.BuildID) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), cleanupTimeout)
		defer cancel()
		if err := e.Teardown(ctx, id); err != nil {
			t.Errorf("tear down build %s: %v", id, err)
		}
		if err := removeImages(ctx, e.Client(), id); err != nil {
			t.Errorf("remove images of build %s: %v", id, err)
		}
		if left := leftovers(t, e.Client(), id); len(left) != 0 {
			t.Errorf("after teardown of build %s: got leftovers %v, want none", id, left)
		}
	})
}

// removeImages removes the images labelled baleen.build=id, with every tag they have.
func removeImages(ctx context.Context, c client.APIClient, id baleen.BuildID) error {
	filter := make(client.Filters).Add("label", baleen.LabelBuild+"="+string(id))
	list, err := c.ImageList(ctx, client.ImageListOptions{Filters: filter})
	if err != nil {
		return err
	}
	var errs []error
	for _, img := range list.Items {
		_, err := c.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SecondEngineEnv names the environment variable holding the address of the second engine that
// scripts/second-engine.sh starts; DefaultSecondEngine is used when it is unset.
const SecondEngineEnv = "BALEEN_TEST_DOCKER2"

// DefaultSecondEngine is where scripts/second-engine.sh puts the second engine.
const DefaultSecondEngine = "unix:///run/baleen-docker2/docker.sock"

// SecondEngineHost returns the address of the second engine. When it does not answer, the test fails if
// CI is set and is skipped otherwise (run scripts/second-engine.sh start).
func SecondEngineHost(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a second Docker engine; skipped under -short")
	}
	holdSecondEngine(t)
	host := os.Getenv(SecondEngineEnv)
	if host == "" {
		host = DefaultSecondEngine
	}
	c, err := client.New(client.FromEnv, client.WithHost(host))
	if err == nil {
		// Another package's test may have just restarted it: give it a minute to answer.
		deadline := time.Now().Add(time.Minute)
		for {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			_, err = c.Ping(ctx, client.PingOptions{})
			cancel()
			if err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Second)
		}
		c.Close()
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the second engine (%s=%s) is required when CI is set: %v (scripts/second-engine.sh start)", SecondEngineEnv, host, err)
		}
		t.Skipf("the second engine at %s does not answer, skipping (scripts/second-engine.sh start; set CI to make this a failure): %v", host, err)
	}
	return host
}

// SecondEngine returns an Engine on the second engine, with opts.
func SecondEngine(t testing.TB, opts docker.Options) *docker.Engine {
	t.Helper()
	return EngineWith(t, opts, client.WithHost(SecondEngineHost(t)))
}

// SecondEnginePID returns the process id of the second engine's dockerd, once it answers, from the pid file
// scripts/second-engine.sh gives it (under BALEEN_DOCKER2_RUN, /run/baleen-docker2 by default).
func SecondEnginePID(t testing.TB) int {
	t.Helper()
	SecondEngineHost(t) // skipped under -short, a failure under CI when it does not answer
	run := os.Getenv("BALEEN_DOCKER2_RUN")
	if run == "" {
		run = "/run/baleen-docker2"
	}
	data, err := os.ReadFile(filepath.Join(run, "docker.pid"))
	if err != nil {
		t.Fatalf("the second engine's pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("the second engine's pid file: %v", err)
	}
	return pid
}

// secondEngineLock is held, once taken, until the test process ends: the tests of several packages stop,
// freeze and kill the second engine, and `go test ./...` runs packages side by side, so one test binary at
// a time may use it.
var secondEngineLock struct {
	once sync.Once
	// file holds the locked descriptor for the life of the process: an *os.File nothing refers to is
	// closed by its finalizer, and closing it releases the lock.
	file *os.File
	err  error
}

// holdSecondEngine takes the second engine for this test process, waiting for another process that holds
// it to end.
func holdSecondEngine(t testing.TB) {
	t.Helper()
	secondEngineLock.once.Do(func() {
		f, err := os.OpenFile(filepath.Join(os.TempDir(), "baleen-test-docker2.lock"), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			secondEngineLock.err = err
			return
		}
		// Never closed: the lock goes with the process.
		secondEngineLock.file = f
		secondEngineLock.err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
	})
	if secondEngineLock.err != nil {
		t.Fatalf("lock the second engine for this test process: %v", secondEngineLock.err)
	}
}

// SecondEngineScript runs scripts/second-engine.sh with arg (start, kill), from a test anywhere
// of the repository, failing the test if it fails.
func SecondEngineScript(t testing.TB, arg string) {
	t.Helper()
	holdSecondEngine(t)
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", filepath.Join(root, "scripts", "second-engine.sh"), arg).CombinedOutput()
	if err != nil {
		t.Fatalf("second-engine.sh %s: %v\n%s", arg, err, out)
	}
}

// repoRoot is the directory of the module's go.mod, as the go command finds it from the working directory.
func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("find the module's root (go env GOMOD): %v", err)
	}
	return filepath.Dir(gomod), nil
}

// Buffer is a bytes.Buffer safe for a writer (a logger, a container's output) and a test to share.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
