package baleen

import (
	"context"
	"io"
)

// Images is the engine's image store as the stages after the tests use it: an ImagePusher (the push
// stage), an ImageStore (reuse and pruning) and an ImageSaver (shipping images to hosts over SSH).
// pipeline/docker implements all three on one Engine. Consumers take the one they need.
//
// Errors: an engine that cannot be reached wraps ErrUnavailable; an image that does not exist wraps
// ErrNotFound; a registry that refuses the credentials wraps ErrUnauthorized.
type Images interface {
	ImagePusher
	ImageStore
	ImageSaver
}

// ImagePusher pushes images to registries. Push is safe for concurrent use; pushes of one reference
// must not overlap.
type ImagePusher interface {
	// Push pushes ref ("host:port/name:tag") to its registry with auth (nil: anonymously) and returns the
	// digest the registry gave the image ("sha256:…"). Progress goes to out, one line per layer and state.
	// An error the engine reports inside its progress stream is returned as an error.
	Push(ctx context.Context, ref string, auth *RegistryAuth, out io.Writer) (string, error)
}

// ImageStore lists, checks and removes the engine's images. Every method is safe for concurrent use;
// a reference removed while another caller checks it may be reported either way.
type ImageStore interface {
	// ImageExists reports whether ref is present in the engine.
	ImageExists(ctx context.Context, ref string) (bool, error)

	// ListImages lists the images that carry label (a "key=value" or a "key").
	ListImages(ctx context.Context, label string) ([]Image, error)

	// RemoveImage removes the reference ref; the image goes when no reference is left. Removing a
	// reference that does not exist is not an error.
	RemoveImage(ctx context.Context, ref string) error
}

// ImageSaver exports images. SaveImages is safe for concurrent use; the caller closes the stream.
type ImageSaver interface {
	// SaveImages returns `docker save` of refs: a tar stream that `docker load` takes.
	SaveImages(ctx context.Context, refs []string) (io.ReadCloser, error)
}

// Image is one image in the engine.
type Image struct {
	ID     string
	Tags   []string
	Labels map[string]string
}

// RegistryAuth are the credentials for one registry. They never reach a log, the store or build output.
type RegistryAuth struct {
	Username string
	Password string
	// ServerAddress is the registry, as in the image reference ("registry.example.com:5000").
	ServerAddress string
}
