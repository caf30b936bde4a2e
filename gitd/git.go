package gitd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// MinGitVersion is the oldest git the server runs: the first with receive.procReceiveRefs, push options
// handed to proc-receive and protocol v2 for every command it needs (2.39, Debian bookworm's).
var MinGitVersion = [2]int{2, 39}

// CheckGit finds git on PATH and checks that it is MinGitVersion or newer. It returns the version it found,
// or an error that says what to install.
func CheckGit(ctx context.Context) (string, error) {
	path, err := exec.LookPath("git")
	if err != nil {
		return "", fmt.Errorf("git %d.%d or newer is required and was not found on PATH (apt-get install git): %w",
			MinGitVersion[0], MinGitVersion[1], err)
	}
	out, err := exec.CommandContext(ctx, path, "version").Output()
	if err != nil {
		return "", fmt.Errorf("run %s version: %w", path, err)
	}
	v := strings.TrimSpace(string(out))
	major, minor, ok := parseGitVersion(v)
	if !ok {
		return v, fmt.Errorf("%s says %q: cannot tell its version; git %d.%d or newer is required", path, v, MinGitVersion[0], MinGitVersion[1])
	}
	if major < MinGitVersion[0] || major == MinGitVersion[0] && minor < MinGitVersion[1] {
		return v, fmt.Errorf("%s is %q: git %d.%d or newer is required (receive.procReceiveRefs, protocol v2)", path, v, MinGitVersion[0], MinGitVersion[1])
	}
	return v, nil
}

// parseGitVersion reads "git version 2.39.5" (and vendor suffixes such as ".windows.1").
func parseGitVersion(s string) (major, minor int, ok bool) {
	f := strings.Fields(s)
	if len(f) < 3 || f[0] != "git" || f[1] != "version" {
		return 0, 0, false
	}
	parts := strings.SplitN(f[2], ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	return major, minor, err1 == nil && err2 == nil
}

// gitRunner starts git children with a clean environment and, when set, a cap on their address space.
type gitRunner struct {
	// memLimit caps each child's virtual memory (RLIMIT_AS, through prlimit) in bytes; 0 leaves it alone.
	memLimit int64
	// prlimit is the path of util-linux's prlimit, "" when it is not installed.
	prlimit string
	// env is added to every child's environment.
	env []string
}

func newGitRunner(memLimit int64, env []string) *gitRunner {
	r := &gitRunner{memLimit: memLimit, env: env}
	if memLimit > 0 {
		r.prlimit, _ = exec.LookPath("prlimit")
	}
	return r
}

// command prepares git with args in dir. The child gets the server's environment without any GIT_* variable
// (a stray GIT_DIR must not redirect it), plus r.env and extra.
func (r *gitRunner) command(ctx context.Context, dir string, extra []string, args ...string) *exec.Cmd {
	name, argv := "git", args
	if r.memLimit > 0 && r.prlimit != "" {
		// The soft limit binds git; the hard one stays open so that the proc-receive hook, a Go program
		// whose runtime reserves more address space than it uses, can lift it for itself.
		name, argv = r.prlimit, append([]string{"--as=" + strconv.FormatInt(r.memLimit, 10) + ":unlimited", "--", "git"}, args...)
	}
	cmd := exec.CommandContext(ctx, name, argv...)
	cmd.Dir = dir
	env := make([]string, 0, len(os.Environ())+len(r.env)+len(extra)+1)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	env = append(env, "GIT_CONFIG_NOSYSTEM=1")
	env = append(append(env, r.env...), extra...)
	cmd.Env = env
	return cmd
}

// run runs git to its end and returns its standard output; a failure carries git's standard error.
func (r *gitRunner) run(ctx context.Context, dir string, stdin []byte, args ...string) ([]byte, error) {
	cmd := r.command(ctx, dir, nil, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		var ee *exec.ExitError
		if errors.As(err, &ee) && msg != "" {
			return out, fmt.Errorf("git %s: %s", args[0], oneLine(msg))
		}
		return out, fmt.Errorf("git %s: %w", args[0], err)
	}
	return out, nil
}

// oneLine makes a message fit one line of a report: no line breaks, at most 1000 bytes.
func oneLine(msg string) string {
	msg = strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, msg)), " ")
	if len(msg) > 1000 {
		msg = msg[:1000] + "..."
	}
	if msg == "" {
		msg = "rejected"
	}
	return msg
}
