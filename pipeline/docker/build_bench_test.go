package docker_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
	"github.com/moby/moby/client"
)

// BenchmarkBuildImage builds the same context (200 files, 8 MiB, a .dockerignore) through the engine API,
// as a build does, and with the plain docker CLI's classic builder as the baseline, in the same run, with
// the cache busted each time. It reports both and their ratio (x-docker-cli: 1.0 is as fast as the CLI).
func BenchmarkBuildImage(b *testing.B) {
	e := dockertest.Engine(b)
	bb := dockertest.BusyboxImage(b)
	if _, err := exec.LookPath("docker"); err != nil {
		b.Skip("the baseline needs the docker CLI")
	}
	dir := b.TempDir()
	for i := range 200 {
		data := make([]byte, 40<<10)
		rand.Read(data)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d.bin", i)), data, 0o644)
	}
	os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("*.log\n"), 0o644)
	id := dockertest.BuildID(b)
	dockertest.Cleanup(b, e, id)
	ctx := context.Background()
	var apiTime, cliTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A RUN line of its own busts the cache for each build, so that neither builder reuses what the
		// other just built and both do the same work every time.
		bust := func() {
			df := fmt.Sprintf("FROM %s\nCOPY . /ctx\nRUN echo %d > /ctx/n\n", bb, time.Now().UnixNano())
			os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644)
		}
		bust()
		ref := fmt.Sprintf("bench-build:api-%d", i)
		start := time.Now()
		err := e.BuildImage(ctx, id, baleen.ImageRequest{Image: baleen.ImageBuild{Name: "bench-build", Dockerfile: "Dockerfile"},
			Context: os.DirFS(dir), Ref: ref}, io.Discard)
		apiTime += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		cliRef := fmt.Sprintf("bench-build:cli-%d", i)
		cmd := exec.Command("docker", "build", "-q", "--label", baleen.LabelBuild+"="+string(id), "-t", cliRef, dir)
		cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
		bust()
		start = time.Now()
		out, err := cmd.CombinedOutput()
		cliTime += time.Since(start)
		if err != nil {
			b.Fatalf("docker build: %v\n%s", err, out)
		}
		for _, r := range []string{ref, cliRef} {
			e.Client().ImageRemove(ctx, r, client.ImageRemoveOptions{})
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(apiTime.Nanoseconds())/float64(b.N), "api-ns/build")
	b.ReportMetric(float64(cliTime.Nanoseconds())/float64(b.N), "cli-ns/build")
	b.ReportMetric(float64(apiTime)/float64(cliTime), "x-docker-cli")
}
