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

// Deployer rolls releases out to the hosts of a target; deploy implements it with SSH and systemd. Every
// method is safe for concurrent use, but two Deploy calls for one project must not overlap (the caller
// serialises them per project, as it does builds).
//
// Each host keeps what it runs: the unit files, a root-only environment file per unit and a small state
// file saying which release it runs, written only once that release passed on the host. So the host, not
// the caller, knows the release to return to when a new one fails, and a host whose switch was cut short
// (a server restart) is put back on its last good release by the next Deploy.
type Deployer interface {
	// Deploy rolls r out to the hosts of d.Target as d says: host by host ("rolling", the default) or all
	// at once ("all"). Each unit of d runs the image r.Images[unit.Image]. A host where a unit fails to
	// start, to stay active or to pass its health check is returned to the release it ran before (or,
	// when it ran none, the unit is stopped and disabled) and checked again, and so is every host already
	// switched: a release ends on all hosts or on none. Under "rolling" the hosts after it are not touched. It returns one HostResult per host, in rollout order. A failure on a host
	// is a result (Status failed, Message naming host, unit, reason and the unit's last journal lines),
	// not an error; the error is reserved for a deploy that could not start (an unknown target, an image
	// or a credential that is missing), in which case no host was touched. Progress goes to out.
	Deploy(ctx context.Context, r Release, d Deploy, out io.Writer) ([]HostResult, error)

	// Status reports, for each host of target, whether the units of project named in units are active and
	// which release each runs. A host that cannot be reached is reported with Err set, not as an error.
	Status(ctx context.Context, project, target string, units []string) ([]HostStatus, error)

	// Journal writes the journal of one unit of project to w: the last q.Lines lines from q.Host, or from
	// every host of q.Target when q.Host is empty (each line then starts with the host), and what follows
	// while ctx lasts when q.Follow is set.
	Journal(ctx context.Context, q JournalQuery, w io.Writer) error
}

// HostStatus is what one host of a target runs.
type HostStatus struct {
	Host  string       `json:"host"`
	Units []UnitStatus `json:"units,omitempty"`
	// Err says why the host could not be asked.
	Err string `json:"err,omitempty"`
}

// UnitStatus is the state of one deployed unit on one host.
type UnitStatus struct {
	// Unit is the systemd unit: "<project>-<name>.service".
	Unit string `json:"unit"`
	// Active is systemd's ActiveState ("active", "failed", "inactive", ...) and Sub its SubState.
	Active string `json:"active"`
	Sub    string `json:"sub,omitempty"`
	// Release, Build and Image say what the host runs; Release is 0 when no release passed there yet.
	Release int    `json:"release,omitempty"`
	Build   int    `json:"build,omitempty"`
	Image   string `json:"image,omitempty"`
}

// JournalQuery asks a Deployer for a unit's journal.
type JournalQuery struct {
	Project string
	Target  string
	// Unit is the unit's name in baleen.yml ("api"), not the systemd unit.
	Unit string
	// Host is one of the target's hosts; empty for all of them.
	Host string
	// Lines is how many of the last lines to show; 0 means 50.
	Lines  int
	Follow bool
}
