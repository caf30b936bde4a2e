// Package docker is the Engine of Baleen's pipeline on the Docker Engine API: it builds the images a push
// describes, runs the dependency and test containers of a build on a network of their own, copies the
// artifacts out and tags the images that passed.
//
// In the flow push -> build -> test -> push image -> deploy, it carries out the build and test stages for
// package pipeline, which only orchestrates and never imports the Docker client. Every container, network
// and volume it makes for a build carries the label baleen.build=<build id>, so that Teardown can find and
// remove them whatever happened before.
//
// It speaks to engines from API version 1.41 (Docker 20.10) up, negotiating the version on first contact,
// and uses the classic builder so that it needs no BuildKit session.
//
// It also serves the push image stage through baleen.Images: it pushes the images that passed to their
// registry and reports their digests, and lists, removes and saves images for pruning and for shipping
// them to hosts.
package docker
