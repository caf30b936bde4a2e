package docker_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/client"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/docker"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
)

// waitTimeout bounds every wait on a container in these tests.
const waitTimeout = 60 * time.Second

func TestPingUnreachable(t *testing.T) {
	t.Parallel()
	const host = "unix:///nonexistent.sock"
	c, err := client.New(client.WithHost(host))
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	e := docker.New(c, docker.Options{})
	t.Cleanup(func() { e.Close() })
	ctx := t.Context()

	tests := []struct {
		name string
		call func() error
	}{
		{"Ping", func() error { return e.Ping(ctx) }},
		{"Inspect", func() error { _, err := e.Inspect(ctx, "x"); return err }},
		{"Exec", func() error { _, err := e.Exec(ctx, "x", []string{"true"}, io.Discard); return err }},
		{"Setup", func() error { return e.Setup(ctx, "b-1") }},
		{"Teardown", func() error { return e.Teardown(ctx, "b-1") }},
		{"EnsureImage", func() error { return e.EnsureImage(ctx, "busybox:latest", io.Discard) }},
		{"BuildImage", func() error {
			return e.BuildImage(ctx, "b-1", baleen.ImageRequest{
				Image:   baleen.ImageBuild{Name: "api"},
				Context: fstest.MapFS{"Dockerfile": {Data: []byte("FROM scratch\n")}},
				Ref:     "api:b-1",
			}, io.Discard)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, baleen.ErrUnavailable) {
				t.Fatalf("%s on %s: got %v, want an error wrapping ErrUnavailable", tt.name, host, err)
			}
			if !strings.Contains(err.Error(), "docker engine at "+host+" does not answer") {
				t.Errorf("%s error: got %q, want it to say the engine at %s does not answer", tt.name, err, host)
			}
		})
	}
}

func TestBuildImageContext(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	b.setup(t)

	dir := t.TempDir()
	writeFile := func(name, data string, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	writeFile("build/Dockerfile.app", b.dockerfile("FROM busybox\nCOPY . /ctx/\n"), 0o644)
	writeFile(".dockerignore", "build\nsecret.txt\ncache\n", 0o644)
	writeFile("app/run.sh", "#!/bin/sh\necho run\n", 0o755)
	writeFile("app/data.txt", "data\n", 0o640)
	writeFile("secret.txt", "s3cret\n", 0o600)
	writeFile("cache/big.bin", "junk", 0o644)
	if err := os.Symlink("app/run.sh", filepath.Join(dir, "run")); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		fsys       fs.FS
		dockerfile string
		want       []string
	}{
		{
			name: "MapFS",
			fsys: fstest.MapFS{
				"Dockerfile":    {Data: []byte(b.dockerfile("FROM busybox\nCOPY . /ctx/\n")), Mode: 0o644},
				".dockerignore": {Data: []byte("Dockerfile\nsecret.txt\nlogs\n"), Mode: 0o644},
				"tool.sh":       {Data: []byte("#!/bin/sh\n"), Mode: 0o755},
				"keep.txt":      {Data: []byte("keep\n"), Mode: 0o644},
				"secret.txt":    {Data: []byte("s3cret\n"), Mode: 0o600},
				"logs/a.log":    {Data: []byte("log\n"), Mode: 0o644},
			},
			dockerfile: "Dockerfile",
			// The .dockerignore goes into the image like any file, as with docker build. The Dockerfile,
			// which BuildKit reads from the uploaded context, stays in it even though the ignore file
			// names it (the classic builder drops it; see docs/engines.md).
			want: []string{
				"ctx/ -rwxr-xr-x",
				"ctx/.dockerignore -rw-r--r--: Dockerfile\nsecret.txt\nlogs\n",
				"ctx/Dockerfile -rw-r--r--: " + b.dockerfile("FROM busybox\nCOPY . /ctx/\n"),
				"ctx/keep.txt -rw-r--r--: keep\n",
				"ctx/tool.sh -rwxr-xr-x: #!/bin/sh\n",
			},
		},
		{
			name:       "DirFS with a Dockerfile in an ignored directory",
			fsys:       os.DirFS(dir),
			dockerfile: "build/Dockerfile.app",
			// The ignored directory holds only the Dockerfile, which BuildKit reads from the uploaded
			// context and leaves in it.
			want: []string{
				"ctx/ -rwxr-xr-x",
				"ctx/.dockerignore -rw-r--r--: build\nsecret.txt\ncache\n",
				"ctx/app/ -rwxr-xr-x",
				"ctx/app/data.txt -rw-r-----: data\n",
				"ctx/app/run.sh -rwxr-xr-x: #!/bin/sh\necho run\n",
				"ctx/build/ -rwxr-xr-x",
				"ctx/build/Dockerfile.app -rw-r--r--: " + b.dockerfile("FROM busybox\nCOPY . /ctx/\n"),
				"ctx/run -> app/run.sh",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := b.id.ImageTag("baleen-test/ctx-" + strings.ToLower(strings.Fields(tt.name)[0]))
			req := baleen.ImageRequest{
				Image:   baleen.ImageBuild{Name: "ctx", Dockerfile: tt.dockerfile},
				Context: tt.fsys,
				Ref:     ref,
			}
			var out strings.Builder
			if err := b.e.BuildImage(t.Context(), b.id, req, &out); err != nil {
				t.Fatalf("BuildImage: %v\noutput:\n%s", err, out.String())
			}
			if !strings.Contains(out.String(), "Successfully tagged "+ref) {
				t.Errorf("build output: got %q, want it to say it tagged %s", out.String(), ref)
			}
			var runOut strings.Builder
			ctr, code, err := b.e.Run(t.Context(), b.id, baleen.ContainerSpec{Image: ref, Cmd: []string{"true"}}, &runOut)
			if err != nil || code != 0 {
				t.Fatalf("Run in %s: got code %d, error %v, want 0 and none; output %q", ref, code, err, runOut.String())
			}
			if diff := cmp.Diff(tt.want, b.copyFrom(t, ctr, "/ctx")); diff != "" {
				t.Errorf("/ctx in the image (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildImageArgsTargetLabel(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	b.setup(t)
	ref := b.id.ImageTag("baleen-test/args")
	fsys := fstest.MapFS{"Dockerfile": {Data: []byte(b.dockerfile(
		"FROM busybox AS base\nARG GREETING\nRUN echo \"$GREETING\" > /greeting\n" +
			"FROM base AS broken\nRUN false\n"))}}
	req := baleen.ImageRequest{
		Image:   baleen.ImageBuild{Name: "args", Args: map[string]string{"GREETING": "hello there"}, Target: "base"},
		Context: fsys,
		Ref:     ref,
	}
	var out strings.Builder
	if err := b.e.BuildImage(t.Context(), b.id, req, &out); err != nil {
		t.Fatalf("BuildImage with target base: %v\noutput:\n%s", err, out.String())
	}
	img, err := b.e.Client().ImageInspect(t.Context(), ref)
	if err != nil {
		t.Fatalf("inspect %s: %v", ref, err)
	}
	if got := img.Config.Labels[baleen.LabelBuild]; got != string(b.id) {
		t.Errorf("label %s of %s: got %q, want %q", baleen.LabelBuild, ref, got, b.id)
	}
	var runOut strings.Builder
	_, code, err := b.e.Run(t.Context(), b.id, baleen.ContainerSpec{Image: ref, Cmd: []string{"cat", "/greeting"}}, &runOut)
	if err != nil || code != 0 {
		t.Fatalf("Run cat /greeting: got code %d, error %v, want 0 and none", code, err)
	}
	if got, want := runOut.String(), "hello there\n"; got != want {
		t.Errorf("/greeting: got %q, want %q", got, want)
	}
}

func TestBuildImageFailure(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	tests := []struct {
		name       string
		dockerfile string
		want       string
	}{
		{"failing RUN", "FROM busybox\nRUN false\n", "/bin/sh -c false"},
		{"unknown instruction", "FROM busybox\nFROB x\n", "build api: "},
		{"missing COPY source", "FROM busybox\nCOPY nope /nope\n", "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := baleen.ImageRequest{
				Image:   baleen.ImageBuild{Name: "api"},
				Context: fstest.MapFS{"Dockerfile": {Data: []byte(b.dockerfile(tt.dockerfile))}},
				Ref:     b.id.ImageTag("baleen-test/fail"),
			}
			var out strings.Builder
			err := b.e.BuildImage(t.Context(), b.id, req, &out)
			if err == nil {
				t.Fatalf("BuildImage: got no error, want one containing %q; output:\n%s", tt.want, out.String())
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("BuildImage error: got %q, want it to contain %q", err, tt.want)
			}
			if errors.Is(err, baleen.ErrUnavailable) {
				t.Errorf("BuildImage error: got %v, want a build failure, not ErrUnavailable", err)
			}
		})
	}
}

// brokenFS fails to open one file, as a context on a failing disk would.
type brokenFS struct {
	fs.FS
	bad string
}

func (b brokenFS) Open(name string) (fs.File, error) {
	if name == b.bad {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("input/output error")}
	}
	return b.FS.Open(name)
}

func TestBuildImageUnreadableContext(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	fsys := brokenFS{FS: fstest.MapFS{
		"Dockerfile": {Data: []byte(b.dockerfile("FROM busybox\nCOPY . /ctx/\n"))},
		"a.txt":      {Data: []byte("a")},
		"bad.txt":    {Data: []byte("b")},
	}, bad: "bad.txt"}
	req := baleen.ImageRequest{Image: baleen.ImageBuild{Name: "api"}, Context: fsys, Ref: b.id.ImageTag("baleen-test/broken")}
	err := b.e.BuildImage(t.Context(), b.id, req, io.Discard)
	if err == nil {
		t.Fatal("BuildImage from a context with an unreadable file: got no error, want one")
	}
	if want := "open bad.txt: input/output error"; !strings.Contains(err.Error(), want) {
		t.Errorf("BuildImage error: got %q, want it to contain %q", err, want)
	}
}

func TestBuildImageCancelled(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := newWatch("started")
	req := baleen.ImageRequest{
		Image:   baleen.ImageBuild{Name: "slow"},
		Context: fstest.MapFS{"Dockerfile": {Data: []byte(b.dockerfile("FROM busybox\nRUN echo started && sleep 300\n"))}},
		Ref:     b.id.ImageTag("baleen-test/slow"),
	}
	done := make(chan error, 1)
	go func() { done <- b.e.BuildImage(ctx, b.id, req, out) }()
	out.waitSeen(t, waitTimeout)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("BuildImage after cancel: got %v, want context.Canceled", err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("BuildImage still running %s after its context was cancelled", waitTimeout)
	}
}

func TestEnsureImage(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	if err := b.e.EnsureImage(t.Context(), b.busybox, io.Discard); err != nil {
		t.Errorf("EnsureImage of a local image: got %v, want nil", err)
	}
	// A registry on a closed loopback port: the pull fails at once, without leaving the host.
	const missing = "127.0.0.1:1/baleen-test/missing:latest"
	var out strings.Builder
	err := b.e.EnsureImage(t.Context(), missing, &out)
	if !errors.Is(err, baleen.ErrNotFound) {
		t.Fatalf("EnsureImage(%s): got %v, want an error wrapping ErrNotFound", missing, err)
	}
	if want := "image " + missing + " not found locally and could not be pulled: "; !strings.Contains(err.Error(), want) {
		t.Errorf("EnsureImage error: got %q, want it to contain %q", err, want)
	}
}

func TestTag(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	src := b.image(t, "tagsrc", "FROM busybox\n", nil)
	ref := b.id.ImageTag("baleen-test/tagged")
	if err := b.e.Tag(t.Context(), src, ref); err != nil {
		t.Fatalf("Tag: %v", err)
	}
	a, err := b.e.Client().ImageInspect(t.Context(), src)
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.e.Client().ImageInspect(t.Context(), ref)
	if err != nil {
		t.Fatalf("inspect the new tag %s: %v", ref, err)
	}
	if a.ID != c.ID {
		t.Errorf("image of %s: got %s, want %s (that of %s)", ref, c.ID, a.ID, src)
	}
	err = b.e.Tag(t.Context(), "baleen-test/no-such-image:nope", ref)
	if !errors.Is(err, baleen.ErrNotFound) {
		t.Errorf("Tag of a missing image: got %v, want ErrNotFound", err)
	}
}

func TestNetworkHostnames(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	b.setup(t)
	b.setup(t) // idempotent
	ctx := t.Context()
	web, err := b.e.Start(ctx, b.id, baleen.ContainerSpec{
		Name: "web", Role: "depends", Image: b.busybox,
		Cmd: []string{"sh", "-c", "mkdir -p /www && echo \"hello from $WHO\" > /www/index.html && exec httpd -f -p 8080 -h /www"},
		Env: map[string]string{"WHO": "web"},
	})
	if err != nil {
		t.Fatalf("Start web: %v", err)
	}
	cl, err := b.e.Start(ctx, b.id, baleen.ContainerSpec{
		Name: "client", Role: "depends", Image: b.busybox, Cmd: []string{"sleep", "300"},
	})
	if err != nil {
		t.Fatalf("Start client: %v", err)
	}
	var last string
	eventually(t, waitTimeout, func() (bool, string) {
		var out strings.Builder
		code, err := b.e.Exec(ctx, cl, []string{"wget", "-q", "-O", "-", "http://web:8080/"}, &out)
		if err != nil {
			t.Fatalf("Exec wget: %v", err)
		}
		last = out.String()
		return code == 0, "wget http://web:8080/ from client: got exit " + last
	})
	if want := "hello from web\n"; last != want {
		t.Errorf("page from web: got %q, want %q", last, want)
	}
	var host strings.Builder
	if _, err := b.e.Exec(ctx, web, []string{"hostname"}, &host); err != nil {
		t.Fatalf("Exec hostname: %v", err)
	}
	if got, want := host.String(), "web\n"; got != want {
		t.Errorf("hostname of web: got %q, want %q", got, want)
	}
	list, err := b.e.Client().ContainerInspect(ctx, web, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantLabels := map[string]string{baleen.LabelBuild: string(b.id), docker.LabelRole: "depends", docker.LabelName: "web"}
	gotLabels := map[string]string{}
	for k := range wantLabels {
		gotLabels[k] = list.Container.Config.Labels[k]
	}
	if diff := cmp.Diff(wantLabels, gotLabels); diff != "" {
		t.Errorf("labels of web (-want +got):\n%s", diff)
	}
	if got, want := list.Container.Name, "/baleen-"+string(b.id)+"-web"; got != want {
		t.Errorf("name of web: got %q, want %q", got, want)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	b.setup(t)
	ctx := t.Context()
	img := b.image(t, "health", "FROM busybox\nHEALTHCHECK --interval=1s --retries=1000 CMD test -f /tmp/ready\nCMD [\"sleep\", \"300\"]\n", nil)
	ctr, err := b.e.Start(ctx, b.id, baleen.ContainerSpec{Name: "db", Role: "depends", Image: img})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	st, err := b.e.Inspect(ctx, ctr)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if want := (baleen.ContainerState{Running: true, Health: "starting"}); st != want {
		t.Errorf("state before ready: got %+v, want %+v", st, want)
	}
	if code, err := b.e.Exec(ctx, ctr, []string{"touch", "/tmp/ready"}, io.Discard); err != nil || code != 0 {
		t.Fatalf("Exec touch: got code %d, error %v, want 0 and none", code, err)
	}
	eventually(t, waitTimeout, func() (bool, string) {
		st, err := b.e.Inspect(ctx, ctr)
		if err != nil {
			t.Fatalf("Inspect: %v", err)
		}
		return st.Health == "healthy", "health: got " + st.Health + ", want healthy"
	})

	plain, err := b.e.Start(ctx, b.id, baleen.ContainerSpec{Name: "plain", Image: b.busybox, Cmd: []string{"sleep", "300"}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	st, err = b.e.Inspect(ctx, plain)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if want := (baleen.ContainerState{Running: true}); st != want {
		t.Errorf("state of a container without healthcheck: got %+v, want %+v", st, want)
	}
}

func TestInspectExited(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	b.setup(t)
	ctr, _, _ := b.run(t, "exits", "exit 5")
	st, err := b.e.Inspect(t.Context(), ctr)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if want := (baleen.ContainerState{ExitCode: 5}); st != want {
		t.Errorf("state: got %+v, want %+v", st, want)
	}
	_, err = b.e.Inspect(t.Context(), "baleen-no-such-container")
	if !errors.Is(err, baleen.ErrNotFound) {
		t.Errorf("Inspect of a missing container: got %v, want ErrNotFound", err)
	}
}

func TestStartMissingImage(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	b.setup(t)
	_, err := b.e.Start(t.Context(), b.id, baleen.ContainerSpec{Name: "x", Image: "baleen-test/no-such-image:nope"})
	if !errors.Is(err, baleen.ErrNotFound) {
		t.Errorf("Start from a missing image: got %v, want ErrNotFound", err)
	}
}

func TestExec(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	b.setup(t)
	ctx := t.Context()
	ctr, err := b.e.Start(ctx, b.id, baleen.ContainerSpec{Name: "box", Image: b.busybox, Cmd: []string{"sleep", "300"}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	tests := []struct {
		name     string
		argv     []string
		wantCode int
		wantOut  string
	}{
		{"success", []string{"true"}, 0, ""},
		{"exit code and stdout", []string{"sh", "-c", "echo out; echo more; exit 3"}, 3, "out\nmore\n"},
		{"stderr", []string{"sh", "-c", "echo err >&2"}, 0, "err\n"},
		{"missing command", []string{"/no/such/command"}, 126, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			code, err := b.e.Exec(ctx, ctr, tt.argv, &out)
			if err != nil {
				t.Fatalf("Exec %v: %v", tt.argv, err)
			}
			if code != tt.wantCode {
				t.Errorf("Exec %v exit code: got %d, want %d (output %q)", tt.argv, code, tt.wantCode, out.String())
			}
			if tt.wantOut != "" && out.String() != tt.wantOut {
				t.Errorf("Exec %v output: got %q, want %q", tt.argv, out.String(), tt.wantOut)
			}
		})
	}

	t.Run("missing container", func(t *testing.T) {
		_, err := b.e.Exec(ctx, "baleen-no-such-container", []string{"true"}, io.Discard)
		if !errors.Is(err, baleen.ErrNotFound) {
			t.Errorf("Exec in a missing container: got %v, want ErrNotFound", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		out := newWatch("started")
		done := make(chan error, 1)
		go func() {
			_, err := b.e.Exec(cctx, ctr, []string{"sh", "-c", "echo started; sleep 300"}, out)
			done <- err
		}()
		out.waitSeen(t, waitTimeout)
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Exec after cancel: got %v, want context.Canceled", err)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("Exec still running %s after its context was cancelled", waitTimeout)
		}
	})
}

func TestLogs(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	b.setup(t)
	// One stream only: the engine does not keep the order of lines across stdout and stderr.
	ctr, _, _ := b.run(t, "talker", "echo one; echo two; echo three")
	tests := []struct {
		name   string
		tail   int
		follow bool
		want   string
	}{
		{"all", -1, false, "one\ntwo\nthree\n"},
		{"tail", 1, false, "three\n"},
		{"none", 0, false, ""},
		{"follow a stopped container ends", -1, true, "one\ntwo\nthree\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			if err := b.e.Logs(t.Context(), ctr, tt.tail, tt.follow, &out); err != nil {
				t.Fatalf("Logs: %v", err)
			}
			if out.String() != tt.want {
				t.Errorf("Logs(tail %d, follow %v): got %q, want %q", tt.tail, tt.follow, out.String(), tt.want)
			}
		})
	}

	t.Run("follow a running container until ctx ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		live, err := b.e.Start(ctx, b.id, baleen.ContainerSpec{Name: "live", Image: b.busybox,
			Cmd: []string{"sh", "-c", "echo hello; sleep 300"}})
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		out := newWatch("hello\n")
		done := make(chan error, 1)
		go func() { done <- b.e.Logs(ctx, live, -1, true, out) }()
		out.waitSeen(t, waitTimeout)
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Logs after cancel: got %v, want context.Canceled", err)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("Logs still following %s after its context was cancelled", waitTimeout)
		}
	})
}

func TestRun(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	b.setup(t)
	tests := []struct {
		name     string
		spec     baleen.ContainerSpec
		wantCode int
		wantOut  string
	}{
		{
			name:    "success",
			spec:    baleen.ContainerSpec{Name: "ok", Cmd: []string{"echo", "hello"}},
			wantOut: "hello\n",
		},
		{
			name:     "exit code and stderr",
			spec:     baleen.ContainerSpec{Name: "fails", Cmd: []string{"sh", "-c", "echo bad >&2; exit 7"}},
			wantCode: 7,
			wantOut:  "bad\n",
		},
		{
			name: "env sorted, workdir, hostname",
			spec: baleen.ContainerSpec{Name: "envy", Workdir: "/tmp",
				Env: map[string]string{"B": "2", "A": "1 and more"},
				Cmd: []string{"sh", "-c", `echo "$A|$B"; pwd; hostname`}},
			wantOut: "1 and more|2\n/tmp\nenvy\n",
		},
		{
			name:    "no name",
			spec:    baleen.ContainerSpec{Cmd: []string{"echo", "anonymous"}},
			wantOut: "anonymous\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			spec.Image = b.busybox
			spec.Role = "test"
			var out strings.Builder
			ctr, code, err := b.e.Run(t.Context(), b.id, spec, &out)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if ctr == "" {
				t.Errorf("Run: got no container id, want one")
			}
			if code != tt.wantCode {
				t.Errorf("Run exit code: got %d, want %d", code, tt.wantCode)
			}
			if out.String() != tt.wantOut {
				t.Errorf("Run output: got %q, want %q", out.String(), tt.wantOut)
			}
		})
	}
}

// TestRunStreams shows that Run's output arrives while the container runs: the container only finishes
// once the test, having seen its first line, tells it to.
func TestRunStreams(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	b.setup(t)
	ctx := t.Context()
	out := newWatch("first\n")
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		_, code, err := b.e.Run(ctx, b.id, baleen.ContainerSpec{Name: "streamer", Role: "test", Image: b.busybox,
			Cmd: []string{"sh", "-c", "echo first; while [ ! -f /tmp/go ]; do sleep 0.1; done; echo second"}}, out)
		done <- result{code, err}
	}()
	out.waitSeen(t, waitTimeout)
	name := "baleen-" + string(b.id) + "-streamer"
	if code, err := b.e.Exec(ctx, name, []string{"touch", "/tmp/go"}, io.Discard); err != nil || code != 0 {
		t.Fatalf("Exec touch /tmp/go: got code %d, error %v, want 0 and none", code, err)
	}
	select {
	case r := <-done:
		if r.err != nil || r.code != 0 {
			t.Errorf("Run: got code %d, error %v, want 0 and none", r.code, r.err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("Run still running %s after the container was told to finish", waitTimeout)
	}
	if got, want := out.String(), "first\nsecond\n"; got != want {
		t.Errorf("Run output: got %q, want %q", got, want)
	}
}

func TestRunCancelled(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	b.setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := newWatch("ready\n")
	type result struct {
		ctr  string
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		ctr, code, err := b.e.Run(ctx, b.id, baleen.ContainerSpec{Name: "slow", Role: "test", Image: b.busybox,
			Cmd: []string{"sh", "-c", "mkdir -p /out && echo partial > /out/report.txt && echo ready && sleep 300"}}, out)
		done <- result{ctr, code, err}
	}()
	out.waitSeen(t, waitTimeout)
	cancel()
	var r result
	select {
	case r = <-done:
	case <-time.After(waitTimeout):
		t.Fatalf("Run still running %s after its context was cancelled", waitTimeout)
	}
	if !errors.Is(r.err, context.Canceled) {
		t.Errorf("Run after cancel: got %v, want context.Canceled", r.err)
	}
	if r.ctr == "" {
		t.Fatalf("Run after cancel: got no container id, want the killed container's")
	}
	st, err := b.e.Inspect(t.Context(), r.ctr)
	if err != nil {
		t.Fatalf("Inspect the killed container: %v", err)
	}
	if st.Running {
		t.Errorf("killed container: got running, want stopped")
	}
	want := []string{"report.txt -rw-r--r--: partial\n"}
	if diff := cmp.Diff(want, b.copyFrom(t, r.ctr, "/out/report.txt")); diff != "" {
		t.Errorf("CopyFrom the killed container (-want +got):\n%s", diff)
	}
}

func TestCopyFrom(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	b.setup(t)
	ctr, _, code := b.run(t, "artifacts",
		"mkdir -p /out/sub && echo a > /out/a.xml && echo b > /out/sub/b.xml && chmod 755 /out/sub/b.xml")
	if code != 0 {
		t.Fatalf("Run: got exit %d, want 0", code)
	}
	tests := []struct {
		name string
		path string
		want []string
	}{
		{"file", "/out/a.xml", []string{"a.xml -rw-r--r--: a\n"}},
		{"dir", "/out", []string{
			"out/ -rwxr-xr-x",
			"out/a.xml -rw-r--r--: a\n",
			"out/sub/ -rwxr-xr-x",
			"out/sub/b.xml -rwxr-xr-x: b\n",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, b.copyFrom(t, ctr, tt.path)); diff != "" {
				t.Errorf("CopyFrom %s (-want +got):\n%s", tt.path, diff)
			}
		})
	}
	t.Run("missing path", func(t *testing.T) {
		const missing = "/out/no-such-report.xml"
		rc, err := b.e.CopyFrom(t.Context(), ctr, missing)
		if err == nil {
			rc.Close()
		}
		if !errors.Is(err, baleen.ErrNotFound) {
			t.Fatalf("CopyFrom %s: got %v, want ErrNotFound", missing, err)
		}
		if !strings.Contains(err.Error(), missing) {
			t.Errorf("CopyFrom error: got %q, want it to name %s", err, missing)
		}
	})
}

func TestTeardown(t *testing.T) {
	t.Parallel()
	e := dockertest.Engine(t)
	id := dockertest.BuildID(t)
	busybox := dockertest.BusyboxImage(t)
	dockertest.Cleanup(t, e, id) // in case the test fails half way
	ctx := t.Context()

	if err := e.Setup(ctx, id); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	for _, name := range []string{"db", "cache"} {
		if _, err := e.Start(ctx, id, baleen.ContainerSpec{Name: name, Role: "depends", Image: busybox, Cmd: []string{"sleep", "300"}}); err != nil {
			t.Fatalf("Start %s: %v", name, err)
		}
	}
	if _, _, err := e.Run(ctx, id, baleen.ContainerSpec{Name: "tests", Role: "test", Image: busybox, Cmd: []string{"true"}}, io.Discard); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := e.Client().VolumeCreate(ctx, client.VolumeCreateOptions{
		Name: "baleen-" + string(id) + "-data", Labels: map[string]string{baleen.LabelBuild: string(id)},
	}); err != nil {
		t.Fatalf("create volume: %v", err)
	}
	if got := dockertest.Leftovers(t, id); len(got) != 5 {
		t.Fatalf("before teardown: got %d objects %v, want 5 (3 containers, a network, a volume)", len(got), got)
	}
	for i := range 2 {
		if err := e.Teardown(ctx, id); err != nil {
			t.Fatalf("Teardown #%d: %v", i+1, err)
		}
		if got := dockertest.Leftovers(t, id); len(got) != 0 {
			t.Errorf("after Teardown #%d: got leftovers %v, want none", i+1, got)
		}
	}
}
