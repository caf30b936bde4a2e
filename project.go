package baleen

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// Project is a repository pushed to Baleen. It is created on its first push.
type Project struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// Src is where the project was fetched from when Baleen imported it as a dependency; empty for
	// projects pushed by a person.
	Src string `json:"src,omitempty"`
}

var projectNamePattern = regexp.MustCompile(`^[a-z0-9_][a-z0-9._-]{0,62}$`)

// ValidateProjectName checks a project name: lowercase letters, digits, '.', '_' and '-', at most 63, not
// starting with a dot or a dash. Such a name is one path element and can never leave the data directory.
func ValidateProjectName(name string) error {
	if !projectNamePattern.MatchString(name) || strings.Contains(name, "..") {
		return fmt.Errorf("project name %q: use lowercase letters, digits, '.', '_' or '-', at most 63, not starting with '.' or '-': %w", name, ErrInvalid)
	}
	return nil
}

// Build is the record of one build of a project.
type Build struct {
	Project string `json:"project"`
	// Number counts the builds of a project from 1.
	Number int    `json:"number"`
	Status Status `json:"status"`
	Commit string `json:"commit"`
	Branch string `json:"branch"`
	// Pusher is the SHA256 fingerprint of the key that pushed, or the name of what started the build.
	Pusher string `json:"pusher"`
	// Signer is the key that signed the push certificate of the push that started the build (git push
	// --signed), as git reports it ("SHA256:..." for an SSH key, the key id for an OpenPGP one); empty
	// when the push was not signed or its certificate did not verify.
	Signer   string        `json:"signer,omitempty"`
	Created  time.Time     `json:"created"`
	Started  time.Time     `json:"started,omitzero"`
	Finished time.Time     `json:"finished,omitzero"`
	Stages   []StageResult `json:"stages,omitempty"`
	// FailedStage and Message say why a failed build failed.
	FailedStage Stage       `json:"failed_stage,omitempty"`
	Message     string      `json:"message,omitempty"`
	Report      *TestReport `json:"report,omitempty"`
	// Artifacts lists the collected files, relative to the build's artifacts directory.
	Artifacts []string `json:"artifacts,omitempty"`
	// Images maps build image names to the references the build tagged.
	Images map[string]string `json:"images,omitempty"`
	// Dependencies are the builds of the repository dependencies this build ran with.
	Dependencies []DependencyBuild `json:"dependencies,omitempty"`
	// Pushed lists the references pushed to a registry, with their digests.
	Pushed []PushedImage `json:"pushed,omitempty"`
}

// DependencyBuild is the build of a repository dependency (depends.NAME.src) that a build ran with.
type DependencyBuild struct {
	// Name is the key under depends: the dependency's hostname in the build.
	Name    string `json:"name"`
	Project string `json:"project"`
	Branch  string `json:"branch"`
	Commit  string `json:"commit"`
	// Build is the number of the dependency's own build; Reused says it was green already.
	Build  int  `json:"build"`
	Reused bool `json:"reused,omitempty"`
	// RebuildDependents says a green push of the dependency rebuilds the dependent.
	RebuildDependents bool `json:"rebuild_dependents"`
}

// PushedImage is an image a build pushed to a registry.
type PushedImage struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
	// Image is the build image pushed; empty in records made before it was kept.
	Image string `json:"image,omitempty"`
}

// ID is the BuildID of b's Docker objects: "<project>-<number>-<instance>", where instance tells apart the
// servers (data directories) that share one Docker engine.
func (b *Build) ID(instance string) BuildID {
	return BuildID(fmt.Sprintf("%s-%d-%s", b.Project, b.Number, instance))
}

// BuildPatch changes the fields of a Build that are set in it.
type BuildPatch struct {
	Status       *Status
	Started      *time.Time
	Finished     *time.Time
	Stages       []StageResult
	FailedStage  *Stage
	Message      *string
	Report       *TestReport
	Artifacts    []string
	Images       map[string]string
	Dependencies []DependencyBuild
	Pushed       []PushedImage
}

// BuildFilter narrows a listing of builds.
type BuildFilter struct {
	Project string
	// Statuses keeps only builds in one of these; all when empty.
	Statuses []Status
	// Limit caps the number returned, newest first; all when 0.
	Limit int
}

// ProjectStore keeps projects. Every method is safe for concurrent use.
type ProjectStore interface {
	// CreateProject creates a project; ErrExists if it exists.
	CreateProject(ctx context.Context, p Project) error
	// Project returns one project; ErrNotFound if it does not exist.
	Project(ctx context.Context, name string) (Project, error)
	// Projects lists all projects by name.
	Projects(ctx context.Context) ([]Project, error)
}

// BuildStore keeps builds and their logs. Every method is safe for concurrent use.
type BuildStore interface {
	// CreateBuild records a new queued build of b.Project, numbered one above the project's last, and
	// returns it. ErrNotFound if the project does not exist.
	CreateBuild(ctx context.Context, b Build) (Build, error)
	// Build returns one build; ErrNotFound if it does not exist.
	Build(ctx context.Context, project string, number int) (Build, error)
	// LatestBuild returns a project's newest build; ErrNotFound if it has none.
	LatestBuild(ctx context.Context, project string) (Build, error)
	// Builds lists builds, newest first.
	Builds(ctx context.Context, f BuildFilter) ([]Build, error)
	// UpdateBuild applies p to a build and returns the result.
	UpdateBuild(ctx context.Context, project string, number int, p BuildPatch) (Build, error)
	// LogWriter returns a writer that appends to a build's log as output is produced. Close flushes it.
	LogWriter(ctx context.Context, project string, number int) (io.WriteCloser, error)
	// Log returns a reader of a build's log from byte offset on, as far as it has been written.
	Log(ctx context.Context, project string, number int, offset int64) (io.ReadCloser, error)
}
