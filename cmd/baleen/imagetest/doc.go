// Package imagetest checks the Docker image of Baleen that the repository's Dockerfile builds. It holds
// only tests, in a package of their own so that `go test ./...` runs them beside the other packages'
// instead of after cmd/baleen's: most of their time goes to the Debian mirror and the engine, not to
// the processor.
package imagetest
