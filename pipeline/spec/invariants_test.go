package spec

import (
	"path"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
)

// checkInvariants checks what every successfully parsed Spec promises, whatever the input was.
func checkInvariants(t *testing.T, s *baleen.Spec) {
	t.Helper()
	if s == nil {
		t.Fatal("Parse: got a nil Spec and no error")
	}
	if len(s.Build) == 0 {
		t.Error("Spec.Build: got none, want at least one image")
	}
	names := make(map[string]bool)
	for _, b := range s.Build {
		if msg := checkImageName(b.Name); msg != "" {
			t.Errorf("build %q: %s", b.Name, msg)
		}
		if names[b.Name] {
			t.Errorf("build %q: got it twice, want unique names", b.Name)
		}
		names[b.Name] = true
		if c, msg := cleanRel(b.Context, "context"); msg != "" || c != b.Context {
			t.Errorf("build %q: context %q is not clean and relative (%s)", b.Name, b.Context, msg)
		}
		if c, msg := cleanRel(b.Dockerfile, "dockerfile"); msg != "" || c != b.Dockerfile || c == "." {
			t.Errorf("build %q: dockerfile %q is not a clean relative file (%s)", b.Name, b.Dockerfile, msg)
		}
	}
	if s.Test.Image == "" {
		t.Error("Spec.Test.Image: got empty, want the first build image by default")
	}
	if s.Test.Timeout <= 0 {
		t.Errorf("Spec.Test.Timeout: got %v, want > 0", s.Test.Timeout)
	}
	if s.Test.Workdir != "" && !path.IsAbs(s.Test.Workdir) {
		t.Errorf("Spec.Test.Workdir: got %q, want an absolute path", s.Test.Workdir)
	}
	hosts := make(map[string]bool)
	for _, d := range s.Depends {
		if !hostnamePattern.MatchString(d.Name) || hosts[d.Name] {
			t.Errorf("depends %q: want a unique hostname", d.Name)
		}
		hosts[d.Name] = true
		if d.Image == "" && d.Src == "" {
			t.Errorf("depends %q: got neither image nor src", d.Name)
		}
		if d.Ready.Timeout <= 0 {
			t.Errorf("depends %q: ready timeout %v, want > 0", d.Name, d.Ready.Timeout)
		}
	}
	seen := make(map[string]bool)
	for _, c := range s.Credentials {
		if checkEnvName(c) != "" || seen[c] {
			t.Errorf("credentials: %q is not a unique variable name", c)
		}
		seen[c] = true
	}
	for _, list := range [][]string{s.Artifacts.XUnit, s.Artifacts.Coverage, s.Artifacts.CoverageHTML, s.Artifacts.Files} {
		for _, p := range list {
			if !path.IsAbs(p) || path.Clean(p) != p {
				t.Errorf("artifacts: path %q is not clean and absolute", p)
			}
		}
	}
	for _, cmd := range []baleen.Command{s.Test.Command} {
		if cmd.Shell != "" && len(cmd.Exec) > 0 {
			t.Errorf("command %+v: got both forms, want one", cmd)
		}
		if len(cmd.Exec) > 0 && strings.TrimSpace(cmd.Exec[0]) == "" {
			t.Errorf("command %+v: empty program name", cmd)
		}
	}
	if s.Push != nil && s.Push.Registry == "" {
		t.Error("Spec.Push: set without a registry")
	}
}
