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
	"testing/fstest"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/docker"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
)

// BenchmarkBuildKitStages builds a Dockerfile of two independent stages that take 3 seconds each, with the
// cache busted each time, through BuildKit and, as the baseline in the same run, with the classic builder,
// which builds the stages one after the other. It reports both and their ratio (x-classic; the goal is
// 0.6 or less).
func BenchmarkBuildKitStages(b *testing.B) {
	kit := dockertest.Engine(b)
	classic := dockertest.EngineWith(b, docker.Options{Classic: true})
	bb := dockertest.BusyboxImage(b)
	id := dockertest.BuildID(b)
	dockertest.Cleanup(b, kit, id)
	ctx := context.Background()
	build := func(e *docker.Engine, i int, name string) time.Duration {
		df := fmt.Sprintf("FROM %[1]s AS a\nRUN sleep 3 && echo a%[2]d > /a\nFROM %[1]s AS b\nRUN sleep 3 && echo b%[2]d > /b\n"+
			"FROM %[1]s\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n", bb, time.Now().UnixNano())
		req := baleen.ImageRequest{Image: baleen.ImageBuild{Name: name},
			Context: fstest.MapFS{"Dockerfile": {Data: []byte(df)}}, Ref: id.ImageTag("bench-stages/" + name)}
		start := time.Now()
		if err := e.BuildImage(ctx, id, req, io.Discard); err != nil {
			b.Fatalf("build %s %d: %v", name, i, err)
		}
		return time.Since(start)
	}
	var kitTime, classicTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		kitTime += build(kit, i, "buildkit")
		classicTime += build(classic, i, "classic")
	}
	b.StopTimer()
	b.ReportMetric(float64(kitTime.Nanoseconds())/float64(b.N), "buildkit-ns/build")
	b.ReportMetric(float64(classicTime.Nanoseconds())/float64(b.N), "classic-ns/build")
	b.ReportMetric(float64(kitTime)/float64(classicTime), "x-classic")
}

// BenchmarkRebuildUnchanged builds an unchanged context (200 files, 8 MiB, a .dockerignore, a COPY and a
// RUN) a second time through Baleen (BuildKit), and with `docker build` as the baseline in the same run,
// both from their own warm cache. The CLI builds with BuildKit when its buildx component is installed and
// with the classic builder otherwise (Debian's docker.io has no buildx); the output names which. It reports both and their ratio (x-docker-cli; the goal is 1.05 or
// less).
func BenchmarkRebuildUnchanged(b *testing.B) {
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
	df := fmt.Sprintf("FROM %s\nCOPY . /ctx\nRUN ls /ctx | wc -l > /n\n", bb)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644)
	id := dockertest.BuildID(b)
	dockertest.Cleanup(b, e, id)
	ctx := context.Background()
	ref, cliRef := id.ImageTag("bench-rebuild/api"), id.ImageTag("bench-rebuild/cli")
	api := func() error {
		return e.BuildImage(ctx, id, baleen.ImageRequest{Image: baleen.ImageBuild{Name: "bench-rebuild"},
			Context: os.DirFS(dir), Ref: ref}, io.Discard)
	}
	cliBuildKit := exec.Command("docker", "buildx", "version").Run() == nil
	b.Logf("baseline: docker build with BuildKit: %v", cliBuildKit)
	cli := func() error {
		cmd := exec.Command("docker", "build", "-q", "--label", baleen.LabelBuild+"="+string(id), "-t", cliRef, dir)
		cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
		if cliBuildKit {
			cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=1")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("docker build: %v\n%s", err, out)
		}
		return nil
	}
	for _, warm := range []func() error{api, cli} {
		if err := warm(); err != nil {
			b.Fatal(err)
		}
	}
	var apiTime, cliTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := api(); err != nil {
			b.Fatal(err)
		}
		apiTime += time.Since(start)
		start = time.Now()
		if err := cli(); err != nil {
			b.Fatal(err)
		}
		cliTime += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(float64(apiTime.Nanoseconds())/float64(b.N), "api-ns/build")
	b.ReportMetric(float64(cliTime.Nanoseconds())/float64(b.N), "cli-ns/build")
	b.ReportMetric(float64(apiTime)/float64(cliTime), "x-docker-cli")
}
