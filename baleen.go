// Package baleen is the vocabulary of Baleen, continuous integration and delivery for Docker stacks driven
// by git push.
//
// A push to a Project starts a Build. A Build runs the pipeline that the repository's baleen.yml (a Spec)
// describes, stage by stage: build the images, start the dependency containers, run the tests, collect the
// artifacts, tag the images. Each Stage ends with a StageResult and the Build with a Status.
//
// This package holds those types, the sentinel errors and the small interfaces that the other packages
// implement: the Engine (pipeline/docker speaks the Docker Engine API), the stores (store speaks badger).
// It imports only the standard library.
package baleen

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Status is where a build stands.
type Status string

// The statuses a build goes through. A build is queued, then running, then ends in exactly one of the
// final statuses.
const (
	StatusQueued      Status = "queued"
	StatusRunning     Status = "running"
	StatusPassed      Status = "passed"
	StatusFailed      Status = "failed"
	StatusCancelled   Status = "cancelled"
	StatusInterrupted Status = "interrupted"
)

// Final reports whether s is an end state that will not change again.
func (s Status) Final() bool {
	switch s {
	case StatusPassed, StatusFailed, StatusCancelled, StatusInterrupted:
		return true
	}
	return false
}

// Stage names one step of the pipeline.
type Stage string

// The stages of a pipeline, in the order they run.
const (
	// StageConfig reads and checks the baleen.yml of the commit being built.
	StageConfig Stage = "config"
	// StageDependencies fetches and builds the repository dependencies, bottom-up.
	StageDependencies Stage = "dependencies"
	StageBuild        Stage = "build"
	StageDepends      Stage = "depends"
	StageTest         Stage = "test"
	StageArtifacts    Stage = "artifacts"
	StageTag          Stage = "tag"
	// StagePush pushes the tagged images to the registry that baleen.yml names.
	StagePush Stage = "push"
	// StageDeploy rolls the images out to the target's hosts.
	StageDeploy Stage = "deploy"
)

// StageResult is how one stage of a build ended.
type StageResult struct {
	Stage    Stage         `json:"stage"`
	Status   Status        `json:"status"`
	Duration time.Duration `json:"duration"`
	// Message says why a stage failed, in words for the person who pushed.
	Message string `json:"message,omitempty"`
}

// Result is the outcome of running a pipeline once.
type Result struct {
	Status Status        `json:"status"`
	Stages []StageResult `json:"stages"`
	// FailedStage is the stage that decided a failed build; empty when the build passed.
	FailedStage Stage `json:"failed_stage,omitempty"`
	// Message says why the build failed, when it did.
	Message string `json:"message,omitempty"`
	// Report is the parsed test reports and coverage; nil when the build produced none.
	Report *TestReport `json:"report,omitempty"`
	// Images maps each build image name to the per-build reference it was tagged with.
	Images map[string]string `json:"images,omitempty"`
	// Artifacts lists the files collected from the test container, relative to the artifacts directory.
	Artifacts []string `json:"artifacts,omitempty"`
	// Pushed lists the references the push stage pushed, with their digests.
	Pushed   []PushedImage `json:"pushed,omitempty"`
	Duration time.Duration `json:"duration"`
}

// InfrastructureReason begins the Message of a stage or build that failed because infrastructure it needed
// (a Docker engine, a registry) failed or stopped answering, not because of what was pushed: "infrastructure:
// engine build-2 stopped answering: ...". The status is StatusFailed and FailedStage is the stage that was
// running when it happened; a push of the same commit may well pass.
const InfrastructureReason = "infrastructure: "

// Infrastructure reports whether a failed build or stage failed for a reason of the infrastructure's
// (its message begins with InfrastructureReason).
func Infrastructure(status Status, message string) bool {
	return status == StatusFailed && strings.HasPrefix(message, InfrastructureReason)
}

// BuildID identifies one build in the Docker objects it creates: every container, network and volume of a
// build carries the label LabelBuild=BuildID, and its images are tagged with it. It is tag-safe
// ([a-z0-9][a-z0-9_.-]*) by construction.
type BuildID string

// LabelBuild is the label every Docker object made by a build carries, with the BuildID as its value.
const LabelBuild = "baleen.build"

var buildIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,100}$`)

// ParseBuildID checks that s can serve as a BuildID.
func ParseBuildID(s string) (BuildID, error) {
	if !buildIDPattern.MatchString(s) {
		return "", fmt.Errorf("build id %q: want lowercase letters, digits, '.', '_' or '-': %w", s, ErrInvalid)
	}
	return BuildID(s), nil
}

// LatestTag is the tag a green build of project gives its image name: "<name>:baleen-<project>-latest", so
// that two projects that build an image of the same name keep a latest image each on a shared engine.
// Without a project (a local `baleen build`) it is "<name>:latest".
func LatestTag(project, name string) string {
	if project == "" {
		return name + ":latest"
	}
	return name + ":baleen-" + project + "-latest"
}

// IsLatestTag reports whether ref ends in a tag LatestTag makes.
func IsLatestTag(ref string) bool {
	return strings.HasSuffix(ref, ":latest") || strings.HasSuffix(ref, "-latest") && strings.Contains(ref, ":baleen-")
}

// ImageTag is the immutable per-build tag of the build image name: "<name>:baleen-<id>".
func (id BuildID) ImageTag(name string) string {
	return name + ":baleen-" + string(id)
}
