// Package pipeline runs the builds of Baleen: the heart of the flow push -> build -> test -> push image ->
// deploy, between the push (gitd) and the hosts (deploy).
//
// The Scheduler is the server's side: it records a build, gives it its turn (pipeline/queue), builds its
// repository dependencies or reuses them (ResolveDependencies, shared with `baleen build`), runs the
// Pipeline, deploys green builds of the deploy branch (release.go), prunes old images
// (pipeline/retention), and publishes every step as a baleen.Event for `logs -f`, the push output and
// whatever else subscribes. Cancel, Shutdown and Recover stop builds and clean up after a crash.
//
// A Pipeline runs one build on a baleen.Engine (pipeline/docker): build the images, start the dependency
// containers and wait until each is ready, run the container under test, copy its artifacts out and read
// its reports (pipeline/report), tag and push the images. It only orchestrates — order, status, output —
// and never speaks to Docker itself.
//
// Every stage, from config to deploy, runs through a StageRunner: a header per stage, the tools' own
// output beneath, a line with the stage's result and duration, secrets masked before anything is
// written, and one mapping from a stopped context to a status (cancelled by a person, interrupted by a
// shutdown). Every container, network and volume a build creates is removed when it ends, however it ends.
package pipeline
