// Package docker is the Engine of Baleen's pipeline on the Docker Engine API: it builds the images a push
// describes, runs the dependency and test containers of a build on a network of their own, copies the
// artifacts out and tags the images that passed.
//
// In the flow push -> build -> test -> push image -> deploy, it carries out the build and test stages for
// package pipeline, which only orchestrates and never imports the Docker client. Every container, network
// and volume it makes for a build carries the label baleen.build=<build id>, so that Teardown can find and
// remove them whatever happened before.
//
// It speaks to engines from API version 1.41 (Docker 20.10) up, negotiating the version on first contact.
// Images are built through the engine's BuildKit, with a session (over the engine's /session endpoint)
// that serves the build's secrets, and BuildKit's progress rendered one line per step; an engine without
// BuildKit, or an image whose spec asks for it, gets the classic builder.
//
// Every call has a deadline: one that answers at once gets Options.CallTimeout, a long one (a build, a
// container's run and output) is watched by pinging the engine. An engine that lets a deadline pass is
// taken as stopped, and the call fails with an error wrapping baleen.ErrUnavailable that says so ("engine
// NAME stopped answering"), which the pipeline records as an infrastructure failure.
//
// It also serves the push image stage through baleen.Images: it pushes the images that passed to their
// registry and reports their digests, and lists, removes and saves images for pruning and for shipping
// them to hosts.
package docker
