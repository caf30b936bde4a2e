package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// generated runs `baleen ARGS...`, wants exit 0, and writes the output to a file it returns.
func generated(t *testing.T, name string, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, nil, args...)
	if code != exitOK || out == "" {
		t.Fatalf("baleen %s: got %d, %d bytes, %q; want 0 and output", strings.Join(args, " "), code, len(out), errOut)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFlagsOf checks that the flags completion and the man page show are the commands' own.
func TestFlagsOf(t *testing.T) {
	got := map[string][]string{}
	for _, c := range subcommands() {
		for _, f := range flagsOf(c) {
			got[c.name] = append(got[c.name], f.name+"="+f.value)
		}
	}
	for cmd, want := range map[string][]string{
		"build": {"artifacts=string", "push=", "v="},
		"serve": {"authorized-keys=string", "config=string", "data=string", "listen=string"},
	} {
		for _, w := range want {
			if !slices.Contains(got[cmd], w) {
				t.Errorf("flags of %s: got %v, want %s among them", cmd, got[cmd], w)
			}
		}
	}
}

// TestBashCompletion sources the generated script in a real bash and completes command names, flags read
// from the commands' flag sets, and the completion command's shells.
func TestBashCompletion(t *testing.T) {
	bash := needTool(t, "bash", "bash")
	script := generated(t, "baleen.bash", "completion", "bash")
	for _, tt := range []struct{ words, want string }{
		{"baleen va", "validate"},
		{"baleen build -a", "-artifacts"},
		{"baleen serve -l", "-listen"},
		{"baleen completion f", "fish"},
		{"baleen --ver", "--version"},
	} {
		prog := `source "$1"; COMP_WORDS=(` + tt.words + `); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _baleen; echo "${COMPREPLY[*]}"`
		out, err := exec.Command(bash, "-c", prog, "bash", script).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != tt.want {
			t.Errorf("complete %q: got %q (%v), want %q", tt.words, out, err, tt.want)
		}
	}
}

// TestFishCompletion loads the generated script in a real fish and asks it to complete.
func TestFishCompletion(t *testing.T) {
	fish := needTool(t, "fish", "fish")
	script := generated(t, "baleen.fish", "completion", "fish")
	if out, err := exec.Command(fish, "--no-execute", script).CombinedOutput(); err != nil {
		t.Fatalf("fish --no-execute: %v\n%s", err, out)
	}
	for _, tt := range []struct{ line, want string }{
		{"baleen se", "serve\trun the SSH git remote"},
		{"baleen build -p", "-push\tpush the images"},
	} {
		out, err := exec.Command(fish, "-c", `source $argv[1]; complete -C "$argv[2]"`, script, tt.line).CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), tt.want) {
			t.Errorf("complete %q: got %q (%v), want a line starting %q", tt.line, out, err, tt.want)
		}
	}
}

// TestZshCompletion checks the generated script's syntax in a real zsh.
func TestZshCompletion(t *testing.T) {
	zsh := needTool(t, "zsh", "zsh")
	script := generated(t, "_baleen", "completion", "zsh")
	if out, err := exec.Command(zsh, "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v\n%s", err, out)
	}
	data, _ := os.ReadFile(script)
	for _, want := range []string{"#compdef baleen", "'validate:check a baleen.yml (FILE defaults to ./baleen.yml)'", "'-listen[SSH listen address"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("zsh completion lacks %q", want)
		}
	}
}

// TestManPage formats the generated page with groff, warnings on, and looks for each command and flag.
func TestManPage(t *testing.T) {
	groff := needTool(t, "groff", "groff")
	page := generated(t, "baleen.1", "man")
	cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", page)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("groff: %v, want no error and no warning; got\n%s", err, stderr.String())
	}
	// groff marks bold with backspaces; drop them to read the text.
	text := string(out)
	for strings.Contains(text, "\b") {
		i := strings.Index(text, "\b")
		text = text[:i-1] + text[i+1:]
	}
	for _, want := range []string{"baleen build [flags] [DIR]", "-artifacts string", "baleen serve", "-authorized-keys",
		"baleen completion bash|zsh|fish", "EXIT STATUS", "DOCKER_HOST", "REMOTE COMMANDS", "logs <project> [<build>] [-f]",
		"token create [--read-only]", "gc [--dry-run]"} {
		if !strings.Contains(text, want) {
			t.Errorf("man page lacks %q:\n%s", want, text)
		}
	}
}
