// Package pool spreads builds over several Docker engines: it reads the `engines:` section of the server
// config (each engine's address, over a unix socket, TCP with TLS or ssh://, its build slots and labels),
// checks each engine's health, and hands out slots.
//
// In the flow push -> build -> test -> push image -> deploy, it sits between the scheduler, which decides
// that a build may start, and pipeline/docker, which carries out the build on one engine. The scheduler
// needs one call per build:
//
//	lease, err := pool.Acquire(ctx, buildID, spec.RunsOn) // waits for a slot on an engine that is up
//	defer lease.Release()
//	// run the whole build, its dependency images included, on lease.Engine
//
// An engine that stops answering is marked down and takes no new builds; the builds on it fail through the
// engine's own call deadlines with an error wrapping baleen.ErrUnavailable ("engine NAME stopped
// answering"). When it answers again, the leftovers of finished builds are removed from it before it takes
// builds again.
package pool
