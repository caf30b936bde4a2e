package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// quickStart returns the shell blocks of the README's quick start, in order, as written.
func quickStart(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	section := string(data)
	i := strings.Index(section, "\n## Quick start\n")
	if i < 0 {
		t.Fatal("README.md has no Quick start section")
	}
	section = section[i+1:]
	if j := strings.Index(section[3:], "\n## "); j >= 0 {
		section = section[:j+3]
	}
	var blocks []string
	for {
		start := strings.Index(section, "```sh\n")
		if start < 0 {
			return blocks
		}
		section = section[start+len("```sh\n"):]
		end := strings.Index(section, "```\n")
		if end < 0 {
			t.Fatal("README.md: a quick start block is not closed")
		}
		blocks = append(blocks, section[:end])
		section = section[end:]
	}
}

// newcomer is someone following the README on a fresh clone: their own HOME (no SSH key, no known_hosts),
// git and Go as installed, and an ssh that reads its key and known_hosts from that HOME and never prompts,
// as it would for a user whose home it is.
type newcomer struct {
	t     *testing.T
	clone string
	env   []string
}

func newNewcomer(t *testing.T) *newcomer {
	t.Helper()
	for _, tool := range []string{"make", "git", "ssh", "ssh-keyscan", "ssh-keygen", "flock", "go"} {
		needTool(t, tool, tool)
	}
	n := &newcomer{t: t, clone: filepath.Join(t.TempDir(), "baleen")}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("git", "clone", "-q", root, n.clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	home, bin := t.TempDir(), t.TempDir()
	realSSH, _ := exec.LookPath("ssh")
	wrapper := "#!/bin/sh\nexec " + realSSH + ` -F /dev/null -o UserKnownHostsFile="$HOME/.ssh/known_hosts" ` +
		`-o IdentityFile="$HOME/.ssh/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes "$@"` + "\n"
	if err := os.WriteFile(filepath.Join(bin, "ssh"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	n.env = append(os.Environ(), "HOME="+home, "PATH="+bin+":"+os.Getenv("PATH")+":/usr/local/go/bin",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=newcomer", "GIT_AUTHOR_EMAIL=newcomer@example.com",
		"GIT_COMMITTER_NAME=newcomer", "GIT_COMMITTER_EMAIL=newcomer@example.com", "BALEEN_LISTEN=127.0.0.1:0")
	// Go's caches stay where they are: a newcomer's Go has its own; this one need not rebuild the world.
	for _, v := range []string{"GOPATH", "GOCACHE", "GOMODCACHE"} {
		out, err := exec.Command("go", "env", v).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", v, err)
		}
		n.env = append(n.env, v+"="+strings.TrimSpace(string(out)))
	}
	return n
}

// command is a README block as bash runs it in the clone, its output in out.
func (n *newcomer) command(block string, out *lockedBuffer) *exec.Cmd {
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", block)
	cmd.Dir, cmd.Env = n.clone, n.env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// run runs a README block to its end and returns its exit code and output.
func (n *newcomer) run(block string) (int, string) {
	n.t.Helper()
	out := &lockedBuffer{}
	cmd := n.command(block, out)
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		n.t.Fatalf("bash: %v", err)
	}
	return code, out.String()
}

// TestNewcomer is the quick start as a newcomer follows it, on a fresh clone: the README's commands are
// run as written (read from the README, only the port and the example's directory changed, so that the
// test needs no fixed port and leaves nothing in /tmp), and what the README promises is checked: the
// server shows its host key and the lines to use, a second `make run` says another one is running, the
// push prints the README's sample, and the checks before a push pass.
func TestNewcomer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs make run, a real server and a real push: needs Docker")
	}
	blocks := quickStart(t)
	if len(blocks) < 3 || !strings.HasPrefix(blocks[0], "make run") {
		t.Fatalf("README quick start: got %d blocks, want make run, the push, the local checks:\n%q", len(blocks), blocks)
	}
	n := newNewcomer(t)
	data := filepath.Join(n.clone, "baleen-data")
	removeServerImages(&server{t: t, data: data, engine: newServer(t).engine})

	// Terminal one: make run, in the foreground until Ctrl-C.
	serverOut := &lockedBuffer{}
	srv := n.command(blocks[0], serverOut)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-srv.Process.Pid, syscall.SIGKILL)
		<-done
		if t.Failed() {
			t.Logf("make run printed:\n%s", serverOut.String())
		}
	})
	port := waitServing(t, serverOut, done, regexp.MustCompile(`msg="baleen serving" addr=127\.0\.0\.1:(\d+)`), 10*time.Minute)
	banner := serverOut.String()
	for _, want := range []string{
		"Its host key: SHA256:",
		"ssh-keyscan -p 0 127.0.0.1 >> ~/.ssh/known_hosts",
		"echo '[127.0.0.1]:0 ssh-ed25519 AAAA",
		`git remote add baleen ssh://127.0.0.1:0/$(basename "$PWD")`,
	} {
		if !strings.Contains(banner, want) {
			t.Errorf("make run's banner lacks %q", want)
		}
	}

	// A second make run on the same clone stops at once, naming the first.
	pidText, err := os.ReadFile(filepath.Join(data, lockFile))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidText)))
	code, second := n.run(blocks[0])
	want := fmt.Sprintf("another Baleen is already running on this data directory (pid %d)", pid)
	if code == 0 || !strings.Contains(second, want) || strings.Contains(second, "Baleen is starting") {
		t.Errorf("second make run: got exit %d and\n%s\nwant a failure saying %q before any banner", code, second, want)
	}

	// Terminal two: the push, as written, on the port the server took.
	hello := filepath.Join(t.TempDir(), "hello")
	session := strings.NewReplacer("2222", port, "/tmp/hello", hello).Replace(blocks[1])
	code, pushed := n.run(session)
	if code != 0 {
		t.Fatalf("the quick start's push session: exit %d\n%s", code, pushed)
	}
	checkSample(t, strings.ReplaceAll(pushed, "127.0.0.1:"+port+"/", "127.0.0.1:2222/"))
	if !regexp.MustCompile(`(?m)^#1\s+passed\s`).MatchString(pushed) {
		t.Errorf("ssh builds hello: want build 1 passed in\n%s", pushed)
	}
	fingerprint := regexp.MustCompile(`Its host key: (SHA256:\S+)`).FindStringSubmatch(banner)
	known, _ := exec.Command("ssh-keygen", "-l", "-f", filepath.Join(envOf(n.env, "HOME"), ".ssh/known_hosts")).Output()
	if fingerprint == nil || !strings.Contains(string(known), fingerprint[1]) {
		t.Errorf("the host key ssh-keyscan trusted:\n%s\nwant the fingerprint make run printed (%v)", known, fingerprint)
	}

	// The checks before a push.
	code, local := n.run(blocks[2])
	removeLocalBuildImages(t, local)
	if code != 0 || !strings.Contains(local, "PASSED") || !strings.Contains(local, "examples/hello/baleen.yml: valid") {
		t.Errorf("the quick start's local checks: exit %d, want 0, PASSED and valid:\n%s", code, local)
	}

	// Ctrl-C stops the server.
	syscall.Kill(-srv.Process.Pid, syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		t.Errorf("make run did not stop within 3 minutes of Ctrl-C")
	}
}

// waitServing waits until out matches re (returning its first group), the process ends, or the deadline passes.
func waitServing(t *testing.T, out *lockedBuffer, done <-chan struct{}, re *regexp.Regexp, limit time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		select {
		case <-done:
			t.Fatalf("make run ended before it served:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("make run did not serve within %s:\n%s", limit, out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkSample checks that output holds every line of the README's sample push, in order, up to ids and
// durations (the build's own steps, cut to "..." there, may be anything).
func checkSample(t *testing.T, output string) {
	t.Helper()
	readme, start, end := sampleBlock(t)
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader([]byte(output)))
	for sc.Scan() {
		lines = append(lines, normalize(strings.TrimRight(sc.Text(), " \t\r")))
	}
	at := 0
	for _, want := range strings.Split(strings.TrimRight(readme[start:end], "\n"), "\n") {
		if want == "..." || strings.HasPrefix(want, "$ ") {
			continue
		}
		want = normalize(want)
		for at < len(lines) && lines[at] != want {
			at++
		}
		if at == len(lines) {
			t.Errorf("the push's output lacks the README's line %q (in order):\n%s", want, output)
			return
		}
	}
}

// envOf returns the value of key in env.
func envOf(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}
