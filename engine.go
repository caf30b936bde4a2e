package baleen

import (
	"context"
	"io"
	"io/fs"
)

// Engine is the container runtime a pipeline drives: an ImageBuilder and a ContainerRunner that can be
// pinged. pipeline/docker implements it with the Docker Engine API. One Engine serves many builds at once:
// every method is safe for concurrent use, and every object it makes for a build carries the label
// LabelBuild with the build's id.
//
// The pipeline calls, for one build: Ping; then the ImageBuilder's BuildImage and EnsureImage for each
// image; then the ContainerRunner's Setup, Start, Inspect, Exec and Logs for the dependencies, Run for the
// subject and CopyFrom for its artifacts; then Tag; and always Teardown, with a context that was not
// cancelled, whatever happened before.
//
// Errors: an engine that cannot be reached wraps ErrUnavailable; an image or a path that does not exist
// wraps ErrNotFound. Anything else is a failure of the step that was asked for.
type Engine interface {
	// Ping checks that the engine answers. Its error names the address it tried.
	Ping(ctx context.Context) error
	ImageBuilder
	ContainerRunner
}

// ImageBuilder makes the images of a build. Its methods are safe for concurrent use; builds of different
// BuildIDs may run side by side. BuildImage and EnsureImage come first, Tag only once the images a tag
// names exist.
type ImageBuilder interface {
	// BuildImage builds req.Image from the build context req.Context (honouring its .dockerignore, streamed,
	// never loaded whole into memory) and tags the result req.Ref. The builder's output goes to out.
	BuildImage(ctx context.Context, id BuildID, req ImageRequest, out io.Writer) error

	// EnsureImage makes sure ref is present in the engine, pulling it if it is not. Progress goes to out.
	EnsureImage(ctx context.Context, ref string, out io.Writer) error

	// Tag gives the image src the further reference ref.
	Tag(ctx context.Context, src, ref string) error
}

// ContainerRunner runs the containers of a build on a network of its own. Call order for one build: Setup
// once; Start, then Inspect, Exec and Logs on what it started, from several goroutines at once; Run;
// CopyFrom on the container Run left; Teardown last, always, and safe to repeat. Builds of different
// BuildIDs may use one ContainerRunner at the same time.
type ContainerRunner interface {
	// Setup creates the build's network. It may be called once per build.
	Setup(ctx context.Context, id BuildID) error

	// Start creates and starts a long-running container on the build's network and returns its id.
	Start(ctx context.Context, id BuildID, c ContainerSpec) (string, error)

	// Inspect reports the state of a container.
	Inspect(ctx context.Context, container string) (ContainerState, error)

	// Exec runs argv inside a running container and returns its exit code; its output goes to out.
	Exec(ctx context.Context, container string, argv []string, out io.Writer) (int, error)

	// Logs writes a container's output to w: the last tail lines (all when tail < 0), then, when follow is
	// set, what follows until the container stops or ctx ends.
	Logs(ctx context.Context, container string, tail int, follow bool, w io.Writer) error

	// Run creates a container on the build's network, starts it, streams its output to out until it exits
	// and returns its id and exit code. When ctx ends first, the container is killed, left in place for
	// CopyFrom, and ctx's error is returned with the id.
	Run(ctx context.Context, id BuildID, c ContainerSpec, out io.Writer) (string, int, error)

	// CopyFrom returns a tar stream of path (a file or directory) inside a container, running or not.
	CopyFrom(ctx context.Context, container, path string) (io.ReadCloser, error)

	// Teardown removes every container, network and volume labelled with the build's id. It is idempotent
	// and joins the errors of what it could not remove.
	Teardown(ctx context.Context, id BuildID) error
}

// ImageRequest asks an Engine to build one image.
type ImageRequest struct {
	Image ImageBuild
	// Context is the build context, already narrowed to Image.Context.
	Context fs.FS
	// Ref is the reference to tag the image with.
	Ref string
	// Secrets are the values a Dockerfile may mount with RUN --mount=type=secret,id=NAME: the project's
	// credentials by name. They never go into the image, its history or the output.
	Secrets map[string]string
}

// ContainerSpec is a container a build runs.
type ContainerSpec struct {
	// Name is the container's hostname and its alias on the build's network; it may be empty.
	Name string
	// Role says what the container is to the build ("depends" or "test"); it becomes a label.
	Role    string
	Image   string
	Cmd     []string
	Env     map[string]string
	Workdir string
}

// ContainerState is what Inspect reports.
type ContainerState struct {
	Running  bool
	ExitCode int
	// Health is the HEALTHCHECK status: "" when the image has none, else "starting", "healthy" or
	// "unhealthy".
	Health string
	// Error is the engine's word on why the container could not run, if any.
	Error string
}
