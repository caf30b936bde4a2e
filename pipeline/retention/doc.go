// Package retention decides which build images stay in the engine and removes the others: after each
// build, the images of a project's builds that are neither among its latest green builds, nor running,
// nor in use by a dependent's build (Holds), nor run by a passed release are removed.
//
// It sits at the end of a build in the flow push -> build -> test -> push image -> deploy, called by the
// scheduler (package pipeline) once the build's record is final. It needs only the build and release
// records and an ImageStore; its tests run under -short with a fake image store.
package retention
