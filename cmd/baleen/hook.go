package main

import (
	"fmt"

	"github.com/baleen-ci/baleen/gitd"
)

// cmdHook is `baleen hook proc-receive`: git receive-pack, started by `baleen serve`, runs it as its
// proc-receive hook, and it hands the push to the running server over the unix socket in the data
// directory. The server, not the hook, runs the build and moves the refs, so that a build whose pusher
// disconnected goes on to its end. It is not meant to be run by hand.
func cmdHook(args []string, e env) int {
	if len(args) != 1 || args[0] != "proc-receive" {
		fmt.Fprintln(e.stderr, "usage: baleen hook proc-receive (run by git receive-pack under baleen serve)")
		return exitUsage
	}
	return gitd.RunHook(e.getenv, e.stderr)
}
