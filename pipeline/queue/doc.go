// Package queue is where a build waits for its turn: one build of a project at a time (Projects), and at
// most a fixed number of builds side by side across projects (Slots).
//
// It sits in the middle of the flow push -> build -> test -> push image -> deploy: the scheduler (package
// pipeline) takes a project's turn when a build is queued, builds its repository dependencies, then takes a
// slot for the stages that use the engine. A dependency build waits in its own project's queue while its
// dependent holds its own; Projects keeps the wait-for graph of those waits and refuses a wait that would
// close a cycle (two pushes whose projects depend on each other) rather than let both wait forever.
//
// It knows nothing of builds beyond a project name and a number, and needs no engine: its tests run under
// -short.
package queue
