package baleen

import (
	"context"
	"io"
	"time"
)

// Release is one deploy of a green build to a target's hosts.
type Release struct {
	Project string `json:"project"`
	// Number counts the releases of a project from 1.
	Number int `json:"number"`
	// Build is the number of the build it deploys.
	Build  int    `json:"build"`
	Commit string `json:"commit"`
	Target string `json:"target"`
	// Images maps each unit's image name to the reference deployed ("registry/name@sha256:…" or the
	// per-build tag when the image was shipped over SSH).
	Images map[string]string `json:"images"`
	// Hosts says where each host stands, in rollout order.
	Hosts    []HostResult `json:"hosts"`
	Status   Status       `json:"status"`
	Message  string       `json:"message,omitempty"`
	Started  time.Time    `json:"started"`
	Finished time.Time    `json:"finished,omitzero"`
	// Who started it: a key fingerprint, or "push" for a green push.
	By string `json:"by,omitempty"`
}

// HostResult is how a release went on one host.
type HostResult struct {
	Host string `json:"host"`
	// Status is passed (the host runs this release), failed (it was returned to the previous one), or
	// queued (it was not touched).
	Status  Status `json:"status"`
	Message string `json:"message,omitempty"`
}

// ReleasePatch changes the fields of a Release that are set in it.
type ReleasePatch struct {
	Status   *Status
	Message  *string
	Hosts    []HostResult
	Finished *time.Time
}

// ReleaseStore keeps releases. Every method is safe for concurrent use.
type ReleaseStore interface {
	// CreateRelease records a new release of r.Project numbered one above its last and returns it.
	CreateRelease(ctx context.Context, r Release) (Release, error)
	// Release returns one release; ErrNotFound if it does not exist.
	Release(ctx context.Context, project string, number int) (Release, error)
	// Releases lists a project's releases, newest first; all when limit is 0.
	Releases(ctx context.Context, project string, limit int) ([]Release, error)
	// UpdateRelease applies p to a release and returns the result.
	UpdateRelease(ctx context.Context, project string, number int, p ReleasePatch) (Release, error)
}

// Deployer rolls releases out to hosts; deploy implements it with SSH and systemd.
type Deployer interface {
	// Deploy rolls r out to the hosts of its target as its spec says and returns the hosts' results. prev is
	// the release each host returns to when r fails on it (nil: the first release, the unit is stopped
	// instead). A failure on a host is a result (Status failed), not an error; the error is reserved for a
	// deploy that could not start (an unknown target). Output goes to out.
	Deploy(ctx context.Context, r Release, units []DeployUnit, prev *Release, out io.Writer) ([]HostResult, error)
}
