package docker_test

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/moby/moby/client"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/docker"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
)

// steps collects the BuildKit steps an Engine reports through Options.OnStep.
type steps struct {
	mu   sync.Mutex
	list []docker.Step
}

func (s *steps) add(st docker.Step) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, st)
}

// find returns the last step whose name contains sub.
func (s *steps) find(t *testing.T, sub string) docker.Step {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.list) - 1; i >= 0; i-- {
		if strings.Contains(s.list[i].Name, sub) {
			return s.list[i]
		}
	}
	t.Fatalf("no step named like %q among %d steps", sub, len(s.list))
	return docker.Step{}
}

// buildWith builds dockerfile (FROM busybox rewritten) under b's build id with engine e and returns the
// image reference and the output.
func (b build) buildWith(t *testing.T, e *docker.Engine, name, dockerfile string, req baleen.ImageRequest) (string, string) {
	t.Helper()
	req.Image.Name = name
	req.Context = fstest.MapFS{"Dockerfile": {Data: []byte(b.dockerfile(dockerfile)), Mode: 0o644}}
	req.Ref = b.id.ImageTag("baleen-test/" + name)
	var out strings.Builder
	if err := e.BuildImage(t.Context(), b.id, req, &out); err != nil {
		t.Fatalf("BuildImage %s: %v\noutput:\n%s", name, err, out.String())
	}
	return req.Ref, out.String()
}

func TestBuildKitCacheMount(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	// The cache's id is the build's, so that runs of this test never share a cache.
	df := "FROM busybox\nARG BUST\nRUN --mount=type=cache,id=" + string(b.id) + ",target=/cache " +
		"sh -c 'echo \"runs before: $(cat /cache/runs 2>/dev/null || echo none)\"; echo $BUST >> /cache/runs'\n"
	bust := func(v string) baleen.ImageRequest {
		return baleen.ImageRequest{Image: baleen.ImageBuild{Args: map[string]string{"BUST": v}}}
	}
	_, first := b.buildWith(t, b.e, "cache", df, bust("one"))
	if !strings.Contains(first, "runs before: none") {
		t.Fatalf("first build: got output\n%s\nwant the cache to start empty (runs before: none)", first)
	}

	_, again := b.buildWith(t, b.e, "cache", df, bust("one"))
	if !hasLine(again, "RUN --mount=type=cache", "CACHED") {
		t.Errorf("unchanged rebuild: got output\n%s\nwant the RUN step marked CACHED", again)
	}

	// A changed argument reruns the step, which finds what the first build left in the cache mount.
	_, third := b.buildWith(t, b.e, "cache", df, bust("two"))
	if !strings.Contains(third, "runs before: one") {
		t.Errorf("build with a changed argument: got output\n%s\nwant the step to see the first run in /cache", third)
	}
}

// hasLine reports whether out has a line containing both a and z.
func hasLine(out, a, z string) bool {
	for l := range strings.Lines(out) {
		if strings.Contains(l, a) && strings.Contains(l, z) {
			return true
		}
	}
	return false
}

func TestBuildKitSecretMount(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	b.setup(t)
	const secret = "s3cr3t-value-81f2a7"
	sum := sha256.Sum256([]byte(secret))
	// The step proves it saw the secret by its digest, so that the Dockerfile itself does not hold it.
	df := "FROM busybox\nRUN --mount=type=secret,id=TOKEN,required=true " +
		"sh -c 'test \"$(sha256sum < /run/secrets/TOKEN)\" = \"" + hex.EncodeToString(sum[:]) + "  -\" && echo token-ok > /checked'\n"
	req := baleen.ImageRequest{Secrets: map[string]string{"TOKEN": secret}}
	ref, out := b.buildWith(t, b.e, "secret", df, req)
	if !strings.Contains(out, "RUN --mount=type=secret") {
		t.Errorf("output: got\n%s\nwant the secret step", out)
	}
	if strings.Contains(out, secret) {
		t.Errorf("output: got\n%s\nwant no trace of the secret", out)
	}

	hist, err := b.e.Client().ImageHistory(t.Context(), ref)
	if err != nil {
		t.Fatalf("image history: %v", err)
	}
	for _, h := range hist.Items {
		if strings.Contains(h.CreatedBy, secret) || strings.Contains(h.Comment, secret) {
			t.Errorf("image history: got %q, want no trace of the secret", h.CreatedBy)
		}
	}

	ctr, code, err := b.e.Run(t.Context(), b.id, baleen.ContainerSpec{Role: "test", Image: ref, Cmd: []string{"true"}}, io.Discard)
	if err != nil || code != 0 {
		t.Fatalf("Run: got code %d, error %v", code, err)
	}
	if got := b.copyFrom(t, ctr, "/checked"); len(got) != 1 || !strings.Contains(got[0], "token-ok") {
		t.Fatalf("/checked: got %q, want the step to have seen the secret", got)
	}
	// Every file of the image, read whole: none holds the secret.
	rc, err := b.e.CopyFrom(t.Context(), ctr, "/")
	if err != nil {
		t.Fatalf("CopyFrom /: %v", err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read image files: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("read %s: %v", hdr.Name, err)
		}
		files++
		if strings.Contains(string(data), secret) || strings.Contains(hdr.Name, secret) {
			t.Errorf("image file %s: holds the secret", hdr.Name)
		}
	}
	if files < 3 {
		t.Errorf("image files: got %d, want the whole file system", files)
	}
}

func TestBuildKitMissingSecret(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	df := "FROM busybox\nRUN --mount=type=secret,id=NOPE,required=true true\n"
	req := baleen.ImageRequest{
		Image:   baleen.ImageBuild{Name: "nosecret"},
		Context: fstest.MapFS{"Dockerfile": {Data: []byte(b.dockerfile(df))}},
		Ref:     b.id.ImageTag("baleen-test/nosecret"),
	}
	err := b.e.BuildImage(t.Context(), b.id, req, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "NOPE") {
		t.Errorf("BuildImage with a missing required secret: got %v, want an error naming it", err)
	}
	if errors.Is(err, baleen.ErrUnavailable) {
		t.Errorf("BuildImage error: got %v, want a build failure, not ErrUnavailable", err)
	}
}

func TestBuildKitParallelStages(t *testing.T) {
	t.Parallel()
	var seen steps
	e := dockertest.EngineWith(t, docker.Options{OnStep: seen.add})
	b := newBuild(t)
	df := "FROM busybox AS a\nARG BUST\nRUN sleep 2 && echo a $BUST > /a\n" +
		"FROM busybox AS b\nARG BUST\nRUN sleep 2 && echo b $BUST > /b\n" +
		"FROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n"
	req := baleen.ImageRequest{Image: baleen.ImageBuild{Args: map[string]string{"BUST": string(b.id)}}}
	b.buildWith(t, e, "stages", df, req)
	a, z := seen.find(t, "echo a"), seen.find(t, "echo b")
	if a.Cached || z.Cached || a.Started.IsZero() || z.Started.IsZero() {
		t.Fatalf("stages: got %+v and %+v, want both run, with times", a, z)
	}
	if !a.Started.Before(z.Completed) || !z.Started.Before(a.Completed) {
		t.Errorf("stages: a ran %s-%s, b ran %s-%s: want them to overlap",
			a.Started.Format("15:04:05.000"), a.Completed.Format("15:04:05.000"),
			z.Started.Format("15:04:05.000"), z.Completed.Format("15:04:05.000"))
	}
}

func TestBuildKitFallback(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	// An engine spoken to at API 1.38 is one without BuildKit sessions, as far as the Engine can tell.
	old := dockertest.EngineWith(t, docker.Options{}, client.WithAPIVersion("1.38"))
	df := "FROM busybox\nRUN echo fallback\n"
	_, one := b.buildWith(t, old, "old1", df, baleen.ImageRequest{})
	_, two := b.buildWith(t, old, "old2", df, baleen.ImageRequest{})
	said := strings.Count(one+two, "building with the classic builder")
	if said != 1 {
		t.Errorf("output of two images: got the fallback said %d times, want once:\n%s%s", said, one, two)
	}
	if !strings.Contains(one, "1.38") || !hasLine(one, "Step ", "RUN echo fallback") {
		t.Errorf("output: got\n%s\nwant the reason and the classic builder's steps", one)
	}

	_, forced := b.buildWith(t, b.e, "forced", df, baleen.ImageRequest{Image: baleen.ImageBuild{Builder: docker.BuilderClassic}})
	if !hasLine(forced, "Step ", "RUN echo fallback") || strings.Contains(forced, "building with the classic builder") {
		t.Errorf("output with builder: classic: got\n%s\nwant the classic builder's steps, silently", forced)
	}
	_, kit := b.buildWith(t, b.e, "kit", df, baleen.ImageRequest{})
	if !hasLine(kit, "RUN echo fallback", "DONE") && !hasLine(kit, "RUN echo fallback", "CACHED") {
		t.Errorf("output on BuildKit: got\n%s\nwant one line for the RUN step", kit)
	}
}

func TestBuildKitCancel(t *testing.T) {
	t.Parallel()
	b := newBuild(t)
	w := newWatch("started-sleeping")
	df := "FROM busybox\nARG BUST\nRUN echo started-sleeping $BUST && sleep 300\n"
	req := baleen.ImageRequest{
		Image:   baleen.ImageBuild{Name: "cancel", Args: map[string]string{"BUST": string(b.id)}},
		Context: fstest.MapFS{"Dockerfile": {Data: []byte(b.dockerfile(df))}},
		Ref:     b.id.ImageTag("baleen-test/cancel"),
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.e.BuildImage(ctx, b.id, req, w) }()
	w.waitSeen(t, 2*time.Minute)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled BuildImage: got %v, want context.Canceled", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("BuildImage did not return within 60s of its cancellation")
	}
}
