// Package retention decides what a server keeps. Pruner runs after each build: the images of a project's
// builds that are neither among its latest green builds, nor running, nor in use by a dependent's build
// (Holds), nor run by a passed release are removed. Collector runs on a timer and for `ssh HOST gc`: the
// builds the server's Rules (the newest N per branch and/or those younger than D days, per project by
// glob) no longer keep lose their records, logs, test history, artifacts and images, except those
// unfinished, released, held, or used as a dependency by a build that stays.
//
// It sits at the end of a build in the flow push -> build -> test -> push image -> deploy, called by the
// scheduler (package pipeline) once the build's record is final, and by the server's timer. It needs only
// the build and release records, a BuildDeleter and an ImageStore; its tests run under -short on a real
// badger store and the scripted fake engine.
package retention
