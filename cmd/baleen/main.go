// Command baleen is Baleen's one binary: `baleen serve` runs the SSH git remote, `baleen build DIR` runs a
// repository's pipeline locally, `baleen validate FILE` checks a baleen.yml.
package main

import (
	"context"
	"fmt"
	"github.com/baleen-ci/baleen/commands"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes, the same for every command.
// The exit codes are the ssh commands' (see package commands, where they are documented).
const (
	exitOK       = commands.ExitOK
	exitFailed   = commands.ExitFailed
	exitUsage    = commands.ExitUsage
	exitInfra    = commands.ExitInfra
	exitInternal = commands.ExitInternal
)

// env is the process environment the commands read, passed in so that tests can set it.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

const usage = `baleen — continuous integration and delivery for Docker stacks, driven by git push

Usage:
  baleen build [flags] [DIR]     run DIR's baleen.yml pipeline locally (DIR defaults to .)
  baleen validate [FILE]         check a baleen.yml (FILE defaults to ./baleen.yml)
  baleen serve [flags]           run the SSH git remote
  baleen version                 print the version

Run 'baleen COMMAND -h' for a command's flags.
Exit codes: 0 passed, 1 the pipeline failed, 2 bad configuration or invocation, 3 infrastructure unreachable.
`

// version is set at link time by the Makefile.
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	code := run(ctx, stop, os.Args[1:], e)
	stop()
	os.Exit(code)
}

// run dispatches a command line. stop restores the default signal behaviour once the first signal has
// been taken, so that a second Ctrl-C ends a cleanup that hangs.
func run(ctx context.Context, stop func(), args []string, e env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return exitUsage
	}
	go func() {
		<-ctx.Done()
		stop()
	}()
	switch args[0] {
	case "build":
		return cmdBuild(ctx, args[1:], e)
	case "validate":
		return cmdValidate(args[1:], e)
	case "serve":
		return cmdServe(ctx, args[1:], e)
	case "version", "--version":
		fmt.Fprintln(e.stdout, "baleen", version)
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(e.stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(e.stderr, "baleen: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
}
