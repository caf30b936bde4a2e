// Package api holds the JSON shapes Baleen shows the world: one type per noun (project, build, stage, test
// report, test case, coverage, artifact, log line, release, engine, delivery, token), shared by the ssh
// commands' --json and the web side's /api/v1. Converters build them from the vocabulary of the root
// package, so that the records the store keeps can change without changing what clients read.
//
// Conventions, the same in every shape: durations are whole milliseconds in a field whose name ends in
// _ms; times are RFC 3339 in UTC, left out when unknown; lists are [] rather than null.
package api
