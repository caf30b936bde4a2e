package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// needTool finds a program the test needs: missing, it skips, or fails when CI is set.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required when CI is set (apt-get install %s): %v", name, pkg, err)
		}
		t.Skipf("%s not installed (apt-get install %s)", name, pkg)
	}
	return p
}

// TestSystemdUnit checks contrib/baleen.service as its comments install it: the sysusers.d file creates
// the user it names, in the docker group; systemd-analyze verify finds nothing to say about the unit; it
// wants the engine rather than requiring it (Baleen keeps serving without it), raises the descriptor limit,
// and does not restart on status 2, which is what `baleen serve` exits with when its config file is missing.
func TestSystemdUnit(t *testing.T) {
	analyze := needTool(t, "systemd-analyze", "systemd")
	sysusers := needTool(t, "systemd-sysusers", "systemd")
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc/sysusers.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	users, err := os.ReadFile("../../contrib/baleen.sysusers")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "etc/sysusers.d/baleen.conf"), users, 0o644)
	if out, err := exec.Command(sysusers, "--root="+root).CombinedOutput(); err != nil {
		t.Fatalf("systemd-sysusers: %v\n%s", err, out)
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	group, _ := os.ReadFile(filepath.Join(root, "etc/group"))
	if !regexp.MustCompile(`(?m)^baleen:x:\d+:\d+:[^:]*:/var/lib/baleen:`).Match(passwd) {
		t.Errorf("passwd after systemd-sysusers: got\n%s\nwant a baleen user with home /var/lib/baleen", passwd)
	}
	if !regexp.MustCompile(`(?m)^docker:x:\d+:(.*,)?baleen(,.*)?$`).Match(group) {
		t.Errorf("group after systemd-sysusers: got\n%s\nwant baleen in the docker group", group)
	}

	unit, err := os.ReadFile("../../contrib/baleen.service")
	if err != nil {
		t.Fatal(err)
	}
	text := string(unit)
	for _, want := range []string{"\nUser=baleen\n", "\nStateDirectory=baleen\n", "\nLimitNOFILE=", "\nRestartPreventExitStatus=2\n", "docker.service"} {
		if !strings.Contains(text, want) {
			t.Errorf("baleen.service lacks %q", strings.TrimSpace(want))
		}
	}
	if regexp.MustCompile(`(?m)^(Requires|BindsTo|PartOf)=.*docker`).MatchString(text) {
		t.Error("baleen.service ties itself to docker.service (Requires/BindsTo/PartOf): want Wants=, so that Baleen outlives an engine restart")
	}
	if !regexp.MustCompile(`(?m)^Wants=.*docker\.service`).MatchString(text) {
		t.Error("baleen.service: want Wants=docker.service")
	}
	// verify checks that ExecStart's program exists: point it at this test binary.
	verified := filepath.Join(t.TempDir(), "baleen.service")
	os.WriteFile(verified, []byte(strings.ReplaceAll(text, "/usr/local/bin/baleen", os.Args[0])), 0o644)
	out, err := exec.Command(analyze, "verify", verified).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v, want no error and no output; got\n%s", err, out)
	}

	// The exit status the unit does not restart on is the one a missing config file gives.
	code, _, errOut := runCLI(t, nil, "serve", "--data", t.TempDir(), "--config", filepath.Join(t.TempDir(), "config.yml"))
	if code != exitUsage || !strings.Contains(errOut, "no such file") {
		t.Errorf("serve with a missing config: got %d %q, want %d and the file named", code, errOut, exitUsage)
	}
}

// TestButaneLeavesCoreGroups stops the Flatcar host config from dropping core's groups: Ignition applies a
// user's groups as the whole list, so the config must not set them for core.
func TestButaneLeavesCoreGroups(t *testing.T) {
	data, err := os.ReadFile("../../contrib/flatcar-host.bu")
	if err != nil {
		t.Fatal(err)
	}
	var bu struct {
		Passwd struct {
			Users []map[string]any `yaml:"users"`
		} `yaml:"passwd"`
	}
	if err := yaml.Unmarshal(data, &bu); err != nil {
		t.Fatalf("flatcar-host.bu: %v", err)
	}
	found := false
	for _, u := range bu.Passwd.Users {
		if u["name"] != "core" {
			continue
		}
		found = true
		if g, ok := u["groups"]; ok {
			t.Errorf("flatcar-host.bu sets core's groups to %v: want them left alone", g)
		}
		if _, ok := u["ssh_authorized_keys"]; !ok {
			t.Error("flatcar-host.bu: want core's ssh_authorized_keys (Baleen's deploy key)")
		}
	}
	if !found {
		t.Error("flatcar-host.bu: no core user")
	}
}

// TestDockerignore keeps the private keys `make run` leaves in baleen-data/ (and other local state) out of
// the image's build context.
func TestDockerignore(t *testing.T) {
	data, err := os.ReadFile("../../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		lines[strings.TrimSpace(l)] = true
	}
	for _, want := range []string{"baleen-data/", "bin/", ".git/", "**/.baleen/"} {
		if !lines[want] {
			t.Errorf(".dockerignore lacks %s", want)
		}
	}
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nUSER baleen\n", "-X main.version=${VERSION}", "ARG BASE_IMAGE=debian:trixie-slim"} {
		if !strings.Contains(string(dockerfile), want) {
			t.Errorf("Dockerfile lacks %q", strings.TrimSpace(want))
		}
	}
}
