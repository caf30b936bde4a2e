package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
)

// imageTestLabel marks every image and container TestDockerImage makes, so that all of them are removed.
const imageTestLabel = "org.baleen.test=TestDockerImage"

// docker runs the docker CLI from the repository's root and returns its output, failing the test if it
// fails.
func dockerCLI(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestDockerImage builds the Dockerfile where no registry can be reached: scripts/base-image.sh makes its
// two base images from a local debootstrap (cached between runs). The image must print the version it was
// stamped with, not "dev", and run as an unprivileged user with git at hand.
//
// It runs only when BALEEN_TEST_IMAGE is set: the first debootstrap takes minutes, and the image build
// compiles Baleen from scratch whenever its sources changed, which would not fit in the time `make test`
// gives this package. CI runs it as a step of its own:
//
//	BALEEN_TEST_IMAGE=1 go test -count=1 -timeout 60m -run TestDockerImage ./cmd/baleen
func TestDockerImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Docker image from a Debian root made by debootstrap; -short runs without it")
	}
	if os.Getenv("BALEEN_TEST_IMAGE") == "" {
		t.Skip("set BALEEN_TEST_IMAGE=1 to build the Docker image (it takes minutes)")
	}
	dockertest.Engine(t) // the engine answers, or the test fails under CI and is skipped otherwise
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Minute)
	defer cancel()

	start := time.Now()
	script := exec.CommandContext(ctx, "bash", "scripts/base-image.sh")
	script.Dir = "../.."
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

	suffix := make([]byte, 4)
	rand.Read(suffix)
	version := "v9.9.9-imagetest-" + hex.EncodeToString(suffix)
	tag := "baleen-test/image:" + hex.EncodeToString(suffix)
	t.Cleanup(func() {
		// The image, then what the build stage left without a tag (it carries the base's label).
		exec.Command("docker", "rmi", "-f", tag).Run()
		exec.Command("docker", "image", "prune", "-f", "--filter", "label=org.baleen.origin=scripts/base-image.sh").Run()
	})
	start = time.Now()
	args := append(append([]string{"build", "-q", "--label", imageTestLabel}, baseArgs...),
		"--build-arg", "VERSION="+version, "-t", tag, ".")
	dockerCLI(t, ctx, args...)
	t.Logf("image built in %s", time.Since(start).Round(time.Second))

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
