package api

import (
	"time"

	"github.com/baleen-ci/baleen"
)

// Project is a project with the state of each of its branches: the latest build of each, newest first.
type Project struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// Src is the followed repository's address, credentials removed; empty for a pushed project.
	Src      string  `json:"src,omitempty"`
	Branches []Build `json:"branches"`
}

// Build is one build of a project.
type Build struct {
	Project string        `json:"project"`
	Number  int           `json:"number"`
	Status  baleen.Status `json:"status"`
	Commit  string        `json:"commit"`
	Branch  string        `json:"branch"`
	Pusher  string        `json:"pusher"`
	// Signer is the key that signed the push certificate of a signed push (git push --signed).
	Signer   string    `json:"signer,omitempty"`
	Created  time.Time `json:"created"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
	// DurationMS is from start to end, once the build has ended.
	DurationMS  int64        `json:"duration_ms,omitempty"`
	Stages      []Stage      `json:"stages"`
	FailedStage baleen.Stage `json:"failed_stage,omitempty"`
	Message     string       `json:"message,omitempty"`
	// Report is what the build's test and coverage reports say; nil when it read none.
	Report       *TestReport              `json:"report,omitempty"`
	Artifacts    []string                 `json:"artifacts"`
	Images       map[string]string        `json:"images,omitempty"`
	Pushed       []baleen.PushedImage     `json:"pushed,omitempty"`
	Dependencies []baleen.DependencyBuild `json:"dependencies,omitempty"`
}

// Stage is how one stage of a build went.
type Stage struct {
	Stage      baleen.Stage  `json:"stage"`
	Status     baleen.Status `json:"status"`
	DurationMS int64         `json:"duration_ms"`
	Message    string        `json:"message,omitempty"`
}

// TestReport is what a build's JUnit/xUnit and Cobertura reports say.
type TestReport struct {
	Passed   int                  `json:"passed"`
	Failed   int                  `json:"failed"`
	Skipped  int                  `json:"skipped"`
	Failures []baleen.TestFailure `json:"failures"`
	// Coverage and BranchCoverage are percentages; null when no report counted them.
	Coverage       *float64 `json:"coverage"`
	BranchCoverage *float64 `json:"branch_coverage"`
	Warnings       []string `json:"warnings,omitempty"`
}

// Coverage is a build's coverage and where its HTML report is.
type Coverage struct {
	Percent       *float64 `json:"percent"`
	BranchPercent *float64 `json:"branch_percent"`
	// HTML is the web path of the coverage report's front page, when the build collected one.
	HTML string `json:"html,omitempty"`
}

// Artifact is one file a build kept.
type Artifact struct {
	Path string `json:"path"`
	// Size is in bytes, when known.
	Size int64 `json:"size,omitempty"`
	// URL is its web path, when the web side serves it.
	URL string `json:"url,omitempty"`
}

// Report is a build's test results with what it built on and pushed: `report --json`.
type Report struct {
	Project string        `json:"project"`
	Number  int           `json:"number"`
	Status  baleen.Status `json:"status"`
	Commit  string        `json:"commit"`
	// Report is nil when the build read no test report; Note then says why.
	Report       *TestReport              `json:"report"`
	Note         string                   `json:"note,omitempty"`
	Dependencies []baleen.DependencyBuild `json:"dependencies"`
	Pushed       []baleen.PushedImage     `json:"pushed"`
}

// Release is one deploy of a build to a target.
type Release struct {
	Project string `json:"project"`
	Number  int    `json:"number"`
	Build   int    `json:"build"`
	Commit  string `json:"commit"`
	Target  string `json:"target"`
	// Images maps each image to the reference deployed.
	Images     map[string]string   `json:"images"`
	Hosts      []baleen.HostResult `json:"hosts"`
	Status     baleen.Status       `json:"status"`
	Message    string              `json:"message,omitempty"`
	Started    time.Time           `json:"started"`
	Finished   time.Time           `json:"finished,omitzero"`
	DurationMS int64               `json:"duration_ms,omitempty"`
	By         string              `json:"by,omitempty"`
}

// Action is what an API action did.
type Action struct {
	Project string `json:"project"`
	Build   int    `json:"build,omitempty"`
	Action  string `json:"action"`
	// NewBuild is the number of the build a rebuild started, when known.
	NewBuild int `json:"new_build,omitempty"`
}

// Error is the body of every API error.
type Error struct {
	Error string `json:"error"`
}
