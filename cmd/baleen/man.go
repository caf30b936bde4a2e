package main

import (
	"context"
	"fmt"
	"strings"
)

func cmdMan(_ context.Context, args []string, e env) int {
	if len(args) > 0 {
		fmt.Fprintln(e.stderr, "usage: baleen man   (prints the man page; `man -l <(baleen man)` shows it)")
		if args[0] == "-h" || args[0] == "--help" {
			return exitOK
		}
		return exitUsage
	}
	fmt.Fprint(e.stdout, manPage(subcommands(), remoteCommands()))
	return exitOK
}

// roff escapes text for a man page line: backslashes, hyphens, and a leading dot or quote.
func roff(s string) string {
	s = strings.NewReplacer(`\`, `\e`, `-`, `\-`).Replace(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// manPage writes baleen(1) from the command table: each command with its synopsis, summary and flags,
// then the ssh commands when remote lists them.
func manPage(cmds, remote []command) string {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH BALEEN 1 \"\" \"baleen %s\" \"Baleen manual\"\n", roff(version))
	b.WriteString(".SH NAME\nbaleen \\- continuous integration and delivery for Docker stacks, driven by git push\n")
	b.WriteString(".SH SYNOPSIS\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, ".B baleen %s\n%s\n.br\n", c.name, roff(c.args))
	}
	b.WriteString(".SH DESCRIPTION\n" + roff("Baleen runs its own SSH git remote: `git push baleen main` stores the repository and, "+
		"inside that same push, runs the pipeline its baleen.yml describes: build the images, start the containers "+
		"the tests depend on, run the tests in a container, read their reports, push green images to a registry "+
		"and deploy them as systemd units. A red build rejects the push. `baleen build` runs the same pipeline "+
		"locally, without a server.") + "\n")
	b.WriteString(".SH COMMANDS\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, ".TP\n.B baleen %s %s\n%s\n", c.name, roff(c.args), roff(c.summary))
		for _, f := range flagsOf(c) {
			fmt.Fprintf(&b, ".RS\n.TP\n.B \\-%s", roff(f.name))
			if f.value != "" {
				fmt.Fprintf(&b, " \\fI%s\\fR", roff(f.value))
			}
			fmt.Fprintf(&b, "\n%s\n.RE\n", roff(f.usage))
		}
	}
	if len(remote) > 0 {
		b.WriteString(".SH REMOTE COMMANDS\n" + roff("Run over SSH against a server: ssh -p PORT HOST COMMAND.") + "\n")
		for _, c := range remote {
			fmt.Fprintf(&b, ".TP\n.B %s %s\n%s\n", roff(c.name), roff(c.args), roff(c.summary))
		}
	}
	b.WriteString(`.SH EXIT STATUS
.TP
0
passed
.TP
1
the pipeline failed: a build, a dependency's readiness, the tests
.TP
2
the configuration or the invocation is wrong
.TP
3
infrastructure: the Docker engine cannot be reached
.SH ENVIRONMENT
.TP
.B DOCKER_HOST
the Docker engine to use (default unix:///var/run/docker.sock)
.TP
.B BALEEN_DATA, BALEEN_LISTEN, BALEEN_AUTHORIZED_KEYS, BALEEN_CONFIG
defaults for the flags of
.B baleen serve
.TP
.B BALEEN_CACHE
where
.B baleen build
keeps fetched dependency repositories (default ~/.cache/baleen)
.SH SEE ALSO
.BR git (1),
.BR ssh (1),
.BR docker (1);
docs/baleen\-yml.md, docs/config.md and docs/deploy.md in Baleen's source.
`)
	return b.String()
}
