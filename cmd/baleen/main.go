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
	"strings"
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

// command is one of baleen's own subcommands. The table drives dispatch, the usage text, shell completion
// and the man page, so that they cannot disagree.
type command struct {
	name string
	// args is the synopsis after the name ("[flags] [DIR]"); arg says what the positional argument
	// completes to: "dir", "file" or "" for nothing.
	args, arg string
	summary   string
	run       func(ctx context.Context, args []string, e env) int
}

// subcommands returns baleen's subcommands, in the order usage and the man page list them.
func subcommands() []command {
	return []command{
		{name: "build", args: "[flags] [DIR]", arg: "dir", summary: "run DIR's baleen.yml pipeline locally (DIR defaults to .)", run: cmdBuild},
		{name: "validate", args: "[FILE]", arg: "file", summary: "check a baleen.yml (FILE defaults to ./baleen.yml)",
			run: func(_ context.Context, args []string, e env) int { return cmdValidate(args, e) }},
		{name: "serve", args: "[flags]", summary: "run the SSH git remote", run: cmdServe},
		{name: "version", summary: "print the version (also --version)", run: cmdVersion},
		{name: "completion", args: "bash|zsh|fish", summary: "print the shell completion script for bash, zsh or fish", run: cmdCompletion},
		{name: "man", summary: "print the man page (roff)", run: cmdMan},
	}
}

// usage is the text `baleen help` prints.
func usage() string {
	var b strings.Builder
	b.WriteString("baleen — continuous integration and delivery for Docker stacks, driven by git push\n\nUsage:\n")
	for _, c := range subcommands() {
		fmt.Fprintf(&b, "  %-32s %s\n", strings.TrimSpace("baleen "+c.name+" "+c.args), c.summary)
	}
	b.WriteString("\nRun 'baleen COMMAND -h' for a command's flags.\n" +
		"Exit codes: 0 passed, 1 the pipeline failed, 2 bad configuration or invocation, 3 infrastructure unreachable.\n")
	return b.String()
}

// version is set at link time by the Makefile and the Dockerfile (-X main.version=...).
var version = "dev"

func cmdVersion(_ context.Context, _ []string, e env) int {
	fmt.Fprintln(e.stdout, "baleen", version)
	return exitOK
}

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
		fmt.Fprint(e.stderr, usage())
		return exitUsage
	}
	go func() {
		<-ctx.Done()
		stop()
	}()
	switch args[0] {
	case "--version":
		return cmdVersion(ctx, nil, e)
	case "hook": // run by git receive-pack under baleen serve; not listed
		return cmdHook(args[1:], e)
	case "help", "-h", "--help":
		fmt.Fprint(e.stdout, usage())
		return exitOK
	}
	for _, c := range subcommands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], e)
		}
	}
	fmt.Fprintf(e.stderr, "baleen: unknown command %q\n\n%s", args[0], usage())
	return exitUsage
}
