// Package enginetest is a scripted, in-memory container engine for the orchestration tests of Baleen: it
// plays builds, dependency containers that become ready or crash, test containers that pass, fail or wait
// for a signal, and an image store with labels and tags, without Docker. It also holds in-memory
// repositories for the scheduler's tests.
//
// It stands where pipeline/docker stands in the flow push -> build -> test -> push image -> deploy, and is
// imported by tests only; tests that use it run under -short.
package enginetest
