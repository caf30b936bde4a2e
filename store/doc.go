// Package store keeps Baleen's records in an embedded badger database under the data directory
// (DATA/db). It implements baleen.ProjectStore, baleen.BuildStore, baleen.ReleaseStore and baleen.TestHistory.
//
// In the flow push -> build -> test -> push image -> deploy, store sits beside every step rather than in
// it: gitd creates a project on its first push and a queued build on every push; the pipeline marks the
// build running, appends its output to the build's log as it is produced and records each stage, the test
// report, the artifacts and the image tags; the ssh commands (builds, logs, status) read it all back, also
// while a build is still running. The deploy stage records each rollout as a release and the hosts'
// results in it.
//
// # Key layout
//
// Keys are readable text; project names never contain '/' (baleen.ValidateProjectName), so every prefix
// below ends in '/' and cannot match a longer project name. Numbers are zero-padded so that byte order is
// numeric order.
//
//	p/<project>                     -> {"v":1,"data":<baleen.Project JSON>}
//	n/<project>                     -> last build number of the project, decimal text
//	b/<project>/<number:%010d>      -> {"v":1,"data":<baleen.Build JSON>}
//	l/<project>/<number:%010d>/<offset:%020d> -> raw log bytes starting at that byte offset of the log
//	r/<project>/<number:%010d>      -> {"v":1,"data":<baleen.Release JSON>}
//	rn/<project>                    -> last release number of the project, decimal text
//	tn/<project>/<test case name>   -> the name's number, a uvarint (test history, see tests.go)
//	ti/<project>/<number:%016x>     -> the test case name of that number
//	tc/<project>                    -> last test case number of the project, a uvarint
//	tr/<project>/<number:%010d>     -> the build's test run: branch, commit, then per case its name's
//	                                   number, outcome and milliseconds as varints
//	hs/<project>/<sha256 of the ID hex> -> nothing: a forge webhook delivery seen, with a badger TTL (hooks.go)
//	ws/<sha256 of the cookie hex>   -> {"v":1,"data":<a web session>}, with a badger TTL (web.go)
//	rm/<project>/<number:%010d>     -> {"v":1,"data":<RefMove>}: a green push build's ref move not made yet
//	rg/<project>/<id>               -> {"v":1,"data":<RefMoveGroup>}: an atomic push's ref updates (refmoves.go)
//	dr/<project>/<ref>\x00<commit>\x00<dependent>\x00<branch> -> {"v":1,"data":<Rebuild>}: a rebuild of a
//	                                   dependent that a green push owes (dependents.go)
//	wl/<sha256 of the link's secret hex> -> {"v":1,"data":<a sign-in link not yet opened>}, with a badger
//	                                   TTL (logins.go)
//
// A log is a run of chunks of at most 32 KiB, each keyed by the offset of its first byte, so a reader can
// start anywhere with one seek. Records carry a version in their envelope ("v"); a record with a version
// this code does not know is an error, never silently misread.
//
// # Durability
//
// Badger runs with SyncWrites off; instead the store calls fsync (DB.Sync) itself after every committed
// project, build or release record, so a kill -9 never loses a build or a release that a caller saw
// recorded. Log chunks are not synced one by one: a LogWriter buffers output (up to 32 KiB or one second,
// whichever comes first), commits it as one chunk and syncs only when it is closed. A crash of the server can lose the last second or so of
// a running build's output; that build is interrupted anyway. Unflushed bytes are still visible to Log.
//
// Badger locks the directory: one process at a time opens a store.
package store
