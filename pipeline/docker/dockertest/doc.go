// Package dockertest helps the tests of any Baleen package that need a real Docker engine: it hands out
// an Engine (failing the test when Docker is unreachable and CI is set, skipping it otherwise), builds a
// tiny busybox image FROM scratch that tests can run without a registry, and checks that a build left
// nothing behind.
//
// It sits beside pipeline/docker, the Engine of the build and test stages of the flow
// push -> build -> test -> push image -> deploy, and is imported by tests only.
package dockertest
