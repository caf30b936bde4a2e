package imagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
)

// repoRoot is the repository's root, where the Dockerfile is, from this package's directory.
const repoRoot = "../../.."

// imageTestLabel marks every image and container TestDockerImage makes, so that all of them are removed.
const imageTestLabel = "org.baleen.test=TestDockerImage"

// dockerCLI runs the docker CLI from the repository's root and returns its output, failing the test if it
// fails.
func dockerCLI(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestDockerImage checks the image `make test` can afford to build: the Dockerfile's runtime stage (Debian
// with git and ssh, the unprivileged user, the labels, the entrypoint), from a Debian base that
// scripts/base-image.sh makes from a local debootstrap (cached between runs), plus a binary built outside
// Docker with the build stage's command, added as the Dockerfile's last stage adds it. The image must
// print the version it was stamped with, not "dev", and run as an unprivileged user with git at hand
// (TestDockerImageBuild builds the whole Dockerfile, compiling Baleen in a container).
func TestDockerImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Docker image from a Debian root made by debootstrap; -short runs without it")
	}
	dockertest.Engine(t) // the engine answers, or the test fails under CI and is skipped otherwise
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Minute)
	defer cancel()
	baseArgs := baseImages(t, ctx, "--debian")
	version, suffix := imageVersion()
	runtimeTag, tag := "baleen-test/image-runtime:"+suffix, "baleen-test/image:"+suffix
	t.Cleanup(func() {
		removeImages(t, tag, runtimeTag)
	})

	start := time.Now()
	args := append(append([]string{"build", "-q", "--label", imageTestLabel, "--target", "runtime"}, baseArgs...),
		"--build-arg", "VERSION="+version, "-t", runtimeTag, ".")
	dockerCLI(t, ctx, args...)
	t.Logf("runtime stage built in %s", time.Since(start).Round(time.Second))

	// The build stage's command, on this machine's toolchain and build cache.
	start = time.Now()
	dir := t.TempDir()
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version,
		"-o", filepath.Join(dir, "baleen"), "./cmd/baleen")
	build.Dir = repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	lastStage := "FROM " + runtimeTag + "\nCOPY baleen /usr/local/bin/baleen\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(lastStage), 0o644); err != nil {
		t.Fatal(err)
	}
	dockerCLI(t, ctx, "build", "-q", "--label", imageTestLabel, "-t", tag, dir)
	t.Logf("binary built and added in %s", time.Since(start).Round(time.Second))
	checkImage(t, ctx, tag, version)
}

// TestDockerImageBuild builds the whole Dockerfile where no registry can be reached: scripts/base-image.sh
// makes its two base images from a local debootstrap (cached between runs), and the build stage compiles
// Baleen in a container, from scratch whenever its sources changed. The image is checked as in
// TestDockerImage.
//
// It runs only when BALEEN_TEST_IMAGE is set (`make test-image`): the compile alone takes ten minutes and
// more on two loaded cores, which `make test` cannot afford.
func TestDockerImageBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Docker image from a Debian root made by debootstrap; -short runs without it")
	}
	if os.Getenv("BALEEN_TEST_IMAGE") == "" {
		t.Skip("set BALEEN_TEST_IMAGE=1 to build the whole Dockerfile (make test-image; it takes tens of minutes)")
	}
	dockertest.Engine(t)
	ctx, cancel := context.WithTimeout(t.Context(), 80*time.Minute)
	defer cancel()
	baseArgs := baseImages(t, ctx)
	version, suffix := imageVersion()
	tag := "baleen-test/image:" + suffix
	t.Cleanup(func() {
		// The image, then what the build stage left without a tag (it carries the base's label).
		removeImages(t, tag)
		exec.Command("docker", "image", "prune", "-f", "--filter", "label=org.baleen.origin=scripts/base-image.sh").Run()
	})
	start := time.Now()
	args := append(append([]string{"build", "-q", "--label", imageTestLabel}, baseArgs...),
		"--build-arg", "VERSION="+version, "-t", tag, ".")
	dockerCLI(t, ctx, args...)
	t.Logf("image built in %s", time.Since(start).Round(time.Second))
	checkImage(t, ctx, tag, version)
}

// baseImages runs scripts/base-image.sh with args and returns the build arguments it prints. Under CI a
// base that cannot be made is a failure; elsewhere the test is skipped.
func baseImages(t *testing.T, ctx context.Context, args ...string) []string {
	t.Helper()
	start := time.Now()
	script := exec.CommandContext(ctx, "bash", append([]string{"scripts/base-image.sh"}, args...)...)
	script.Dir = repoRoot
	var stderr strings.Builder
	script.Stderr = &stderr
	out, err := script.Output()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("scripts/base-image.sh: %v\n%s", err, stderr.String())
		}
		t.Skipf("the base images cannot be made here (set CI to make this a failure): %v\n%s", err, stderr.String())
	}
	baseArgs := strings.Fields(string(out))
	t.Logf("base images in %s: %s", time.Since(start).Round(time.Second), strings.Join(baseArgs, " "))
	return baseArgs
}

// imageVersion is a version to stamp a test image with, and the random suffix in it.
func imageVersion() (version, suffix string) {
	b := make([]byte, 4)
	rand.Read(b)
	suffix = hex.EncodeToString(b)
	return "v9.9.9-imagetest-" + suffix, suffix
}

// checkImage checks what an image of Baleen must be: stamped with version, run as the unprivileged user
// baleen, with git at hand.
func checkImage(t *testing.T, ctx context.Context, tag, version string) {
	t.Helper()
	run := func(args ...string) string {
		t.Helper()
		return strings.TrimSpace(dockerCLI(t, ctx, append([]string{"run", "--rm", "--label", imageTestLabel}, args...)...))
	}
	if got, want := run(tag, "--version"), "baleen "+version; got != want {
		t.Errorf("baleen --version in the image: got %q, want %q", got, want)
	}
	if got := run("--entrypoint", "id", tag, "-u"); got == "0" || got == "" {
		t.Errorf("the image's user id: got %q, want a user other than root", got)
	}
	if got := run("--entrypoint", "id", tag, "-un"); got != "baleen" {
		t.Errorf("the image's user: got %q, want baleen", got)
	}
	if got := run("--entrypoint", "git", tag, "--version"); !strings.HasPrefix(got, "git version ") {
		t.Errorf("git in the image: got %q", got)
	}
	if got := dockerCLI(t, ctx, "image", "inspect", "-f", "{{.Config.User}} {{index .Config.Labels \"org.opencontainers.image.version\"}}", tag); strings.TrimSpace(got) != "baleen "+version {
		t.Errorf("image config: got user and version label %q, want %q", strings.TrimSpace(got), "baleen "+version)
	}
}

// removeImages removes the test's images, and says so when the engine refuses.
func removeImages(t *testing.T, tags ...string) {
	if out, err := exec.Command("docker", append([]string{"rmi", "-f"}, tags...)...).CombinedOutput(); err != nil {
		t.Errorf("remove images %v: %v\n%s", tags, err, out)
	}
}
