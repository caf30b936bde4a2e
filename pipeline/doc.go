// Package pipeline runs one build of a repository: the heart of Baleen, between the push (gitd) and the
// deploy (deploy).
//
// A Pipeline takes a parsed baleen.yml (a baleen.Spec, from pipeline/spec), the repository's tree as an fs.FS
// and a baleen.Engine (pipeline/docker), and runs the stages in order: build the images, start the
// dependency containers and wait until each is ready, run the container under test, copy its artifacts out
// and read its reports (pipeline/report), and tag the images. It only orchestrates — order, status, output
// — and never speaks to Docker itself.
//
// Output is written as a person reads it: a header per stage, the tools' own output beneath, a line with the
// stage's result and duration, and a last line with the verdict. Secrets are masked before anything is
// written. Every container, network and volume a build creates is removed when it ends, however it ends.
package pipeline
