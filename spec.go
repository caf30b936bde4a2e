package baleen

import (
	"slices"
	"time"
)

// Spec is a parsed and validated baleen.yml: what a repository builds, what its tests need, how they run and
// what they leave behind. pipeline/spec parses it; docs/baleen-yml.md documents every key.
type Spec struct {
	// Build lists the images the repository builds, in the order they build. It is never empty.
	Build []ImageBuild `json:"build"`
	// Depends lists the containers that run beside the tests, in file order. They start side by side; a
	// dependency waits only for those its After names.
	Depends []Dependency `json:"depends,omitempty"`
	// Test is the container under test, the subject.
	Test Test `json:"test"`
	// Credentials names the secrets given to the subject as environment variables (and to its Dockerfiles'
	// RUN --mount=type=secret steps). A dependency gets only those its own Credentials name.
	Credentials []string  `json:"credentials,omitempty"`
	Artifacts   Artifacts `json:"artifacts"`
	// RunsOn lists the labels the engine that runs the build must have (the server's engines: config).
	RunsOn []string `json:"runs_on,omitempty"`
	// Push and Deploy are accepted and kept for the stages that use them; nil when absent.
	Push   *Push   `json:"push,omitempty"`
	Deploy *Deploy `json:"deploy,omitempty"`
}

// Image returns the build image called name, or false.
func (s *Spec) Image(name string) (ImageBuild, bool) {
	for _, b := range s.Build {
		if b.Name == name {
			return b, true
		}
	}
	return ImageBuild{}, false
}

// BuildSecrets lists every secret a build's containers get, each once: the subject's (SubjectSecrets),
// then each dependency's. Deploy units' credentials are not among them.
func (s *Spec) BuildSecrets() []string {
	var names []string
	seen := map[string]bool{}
	add := func(list []string) {
		for _, n := range list {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	add(s.SubjectSecrets())
	for _, d := range s.Depends {
		add(d.Credentials)
	}
	return names
}

// ImageBuild is one image the repository builds.
type ImageBuild struct {
	// Name is the image's name, and its repository name in Docker.
	Name string `json:"name"`
	// Context is the build context, relative to the repository root, slash-separated and cleaned.
	Context string `json:"context"`
	// Dockerfile is relative to Context; "Dockerfile" when not set.
	Dockerfile string            `json:"dockerfile"`
	Args       map[string]string `json:"args,omitempty"`
	Target     string            `json:"target,omitempty"`
	// Builder is "classic" to build with the engine's classic builder even where it offers BuildKit; ""
	// (BuildKit where the engine has it) otherwise.
	Builder string `json:"builder,omitempty"`
}

// Command is a command in one of its two forms: a string, run with "sh -c", or a list, run as is. The zero
// Command means "the image's own".
type Command struct {
	Shell string   `json:"shell,omitempty"`
	Exec  []string `json:"exec,omitempty"`
}

// IsZero reports whether c is unset.
func (c Command) IsZero() bool { return c.Shell == "" && len(c.Exec) == 0 }

// Argv is the command as an argument vector: Exec, or ["sh", "-c", Shell]; nil when unset.
func (c Command) Argv() []string {
	if c.Shell != "" {
		return []string{"sh", "-c", c.Shell}
	}
	return c.Exec
}

// Dependency is a container that must be running and ready while the tests run. Its Name is its hostname on
// the build's network.
type Dependency struct {
	Name string `json:"name"`
	// Image is an image reference; when it names one of the repository's build images, the one this build
	// just built runs.
	Image   string            `json:"image,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	Command Command           `json:"command,omitzero"`
	Ready   Ready             `json:"ready,omitzero"`
	// After names the dependencies (by hostname) that must be ready before this one starts; the others
	// start at once, side by side.
	After []string `json:"after,omitempty"`
	// Credentials names the server secrets given to this container as environment variables: these and no
	// others.
	Credentials []string `json:"credentials,omitempty"`
	// Src, Branch and MinHash name another repository to build first and run; see the dependency issue.
	Src               string `json:"src,omitempty"`
	Branch            string `json:"branch,omitempty"`
	MinHash           string `json:"minhash,omitempty"`
	RebuildDependents *bool  `json:"rebuild_dependents,omitempty"`
}

// Ready says when a dependency is ready. With a Command, it is run inside the dependency until it exits 0;
// without one, the image's HEALTHCHECK decides if it has one, and otherwise the container running is enough.
type Ready struct {
	Command Command `json:"command,omitzero"`
	// Timeout bounds the wait; DefaultReadyTimeout when not set.
	Timeout time.Duration `json:"timeout,omitempty"`
}

// Defaults for the durations a baleen.yml may leave out.
const (
	DefaultReadyTimeout = 60 * time.Second
	DefaultTestTimeout  = 30 * time.Minute
)

// Test is the container under test.
type Test struct {
	// Image is one of the build images (the first when not set) or any other image reference.
	Image   string            `json:"image"`
	Command Command           `json:"command,omitzero"`
	Env     map[string]string `json:"env,omitempty"`
	Workdir string            `json:"workdir,omitempty"`
	Timeout time.Duration     `json:"timeout"`
	// Credentials names server secrets given to the subject besides those of the spec's Credentials.
	Credentials []string `json:"credentials,omitempty"`
}

// SubjectSecrets lists the secrets the subject gets, each once: the spec's credentials, then its test section's.
func (s *Spec) SubjectSecrets() []string {
	out := slices.Clone(s.Credentials)
	for _, n := range s.Test.Credentials {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// Artifacts are the paths copied out of the finished test container, whether it passed or failed. All paths
// are absolute paths inside the container.
type Artifacts struct {
	// XUnit holds JUnit/xUnit XML reports: files, or directories of *.xml.
	XUnit []string `json:"xunit,omitempty"`
	// AllowNoTests lets a build whose XUnit paths hold no test case pass; by default it fails, since a test
	// command that ran nothing is no green build.
	AllowNoTests bool `json:"allow_no_tests,omitempty"`
	// Coverage holds Cobertura XML reports.
	Coverage []string `json:"coverage,omitempty"`
	// CoverageHTML holds directories of HTML coverage kept with the build.
	CoverageHTML []string `json:"coverage_html,omitempty"`
	// Files holds any other files or directories kept with the build.
	Files []string `json:"files,omitempty"`
}

// Push says where green images go. It is parsed and kept; the registry stage uses it.
type Push struct {
	Registry string   `json:"registry"`
	Images   []string `json:"images,omitempty"`
	Tags     []string `json:"tags,omitempty"`
	// Repositories names, by build image, the repository an image is pushed to under Registry, in place
	// of the default (see Repository).
	Repositories map[string]string `json:"repositories,omitempty"`
}

// Repository is the repository, under the registry, that image is pushed to by a build of project:
// Repositories' entry when it has one, else "<project>/<image>", so that two projects that push an image
// of the same name never share a repository; without a project (a build that has none), image itself.
func (p *Push) Repository(project, image string) string {
	if r, ok := p.Repositories[image]; ok {
		return r
	}
	if project == "" {
		return image
	}
	return project + "/" + image
}

// Deploy says where green images run.
type Deploy struct {
	// Target names a group of hosts in the server's config.
	Target string `json:"target,omitempty"`
	// Branch is the only branch whose green builds deploy; "main" when not set.
	Branch string `json:"branch,omitempty"`
	// Strategy is "rolling" (host by host, the default) or "all".
	Strategy string       `json:"strategy,omitempty"`
	Units    []DeployUnit `json:"units,omitempty"`
	// Raw is the deploy section as decoded YAML.
	Raw map[string]any `json:"raw,omitempty"`
}

// DeployUnit is one systemd unit that runs a build image on each host: <project>-<name>.service.
type DeployUnit struct {
	Name    string            `json:"name"`
	Image   string            `json:"image"`
	Command Command           `json:"command,omitzero"`
	Ports   []string          `json:"ports,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	// Credentials name server secrets written to a root-only environment file on the host.
	Credentials []string `json:"credentials,omitempty"`
	Volumes     []string `json:"volumes,omitempty"`
	Health      Health   `json:"health,omitzero"`
}

// Health says when a deployed unit is healthy: an HTTP URL fetched from the host itself answers 2xx, or a
// command run on the host exits 0, within Timeout. With neither, staying active through the grace period
// is enough.
type Health struct {
	HTTP    string        `json:"http,omitempty"`
	Command Command       `json:"command,omitzero"`
	Timeout time.Duration `json:"timeout,omitempty"`
}

// DefaultHealthTimeout bounds a health check that names no timeout.
const DefaultHealthTimeout = 60 * time.Second
