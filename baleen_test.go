package baleen

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateProjectName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"api", true},
		{"users-service", true},
		{"a.b_c-1", true},
		{"_x", true},
		{strings.Repeat("a", 63), true},
		{strings.Repeat("a", 64), false},
		{"", false},
		{".hidden", false},
		{"-flag", false},
		{"..", false},
		{"a..b", false},
		{"../etc", false},
		{"a/b", false},
		{"/abs", false},
		{"Upper", false},
		{"sp ace", false},
		{"quo'te", false},
		{"new\nline", false},
		{"ünï", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateProjectName(tt.name)
			if (err == nil) != tt.ok {
				t.Errorf("ValidateProjectName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
		})
	}
}

// FuzzValidateProjectName stops a project name from escaping the data directory: any name accepted is one
// path element that stays inside the directory it is joined to.
func FuzzValidateProjectName(f *testing.F) {
	for _, s := range []string{"api", "..", "../x", "a/b", ".git", "-x", "a..b", "x.git"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if ValidateProjectName(name) != nil {
			return
		}
		const dir = "/data/repos"
		p := filepath.Join(dir, name+".git")
		if filepath.Dir(p) != dir || !filepath.IsLocal(name) || strings.ContainsAny(name, "/\\\x00") {
			t.Fatalf("accepted %q, which lands at %s", name, p)
		}
		if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "-") || len(name) > 63 {
			t.Fatalf("accepted %q", name)
		}
	})
}

func TestBuildIDs(t *testing.T) {
	b := Build{Project: "api", Number: 7}
	id := b.ID("0a1b2c3d")
	if id != "api-7-0a1b2c3d" {
		t.Errorf("ID: got %q, want api-7-0a1b2c3d", id)
	}
	if _, err := ParseBuildID(string(id)); err != nil {
		t.Errorf("ParseBuildID(%q): %v", id, err)
	}
	if got := id.ImageTag("web"); got != "web:baleen-api-7-0a1b2c3d" {
		t.Errorf("ImageTag: got %q", got)
	}
	for _, bad := range []string{"", "Up", "-x", "a b", strings.Repeat("a", 102)} {
		if _, err := ParseBuildID(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseBuildID(%q): got %v, want ErrInvalid", bad, err)
		}
	}
}

func TestStatusFinal(t *testing.T) {
	final := map[Status]bool{StatusQueued: false, StatusRunning: false, StatusPassed: true, StatusFailed: true,
		StatusCancelled: true, StatusInterrupted: true}
	for s, want := range final {
		if got := s.Final(); got != want {
			t.Errorf("%s.Final() = %v, want %v", s, got, want)
		}
	}
}

func TestReportSummary(t *testing.T) {
	cov := 81.25
	tests := []struct {
		name string
		r    TestReport
		want string
	}{
		{"counts and coverage", TestReport{Passed: 3, Failed: 1, Skipped: 1, Coverage: &cov}, "tests: 3 passed, 1 failed, 1 skipped — coverage 81.2%"},
		{"no reports", TestReport{}, "tests: no test reports"},
		{"coverage only", TestReport{Coverage: &cov}, "tests: no test reports — coverage 81.2%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.Summary(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCommandArgv(t *testing.T) {
	if got := (Command{Shell: "echo hi"}).Argv(); strings.Join(got, "|") != "sh|-c|echo hi" {
		t.Errorf("shell form: got %q", got)
	}
	if got := (Command{Exec: []string{"a", "b"}}).Argv(); strings.Join(got, "|") != "a|b" {
		t.Errorf("exec form: got %q", got)
	}
	if !(Command{}).IsZero() || (Command{}).Argv() != nil {
		t.Error("the zero Command is not unset")
	}
}

func TestRedactURL(t *testing.T) {
	tests := map[string]string{
		"https://bot:s3cret@git.example.com/a.git": "https://git.example.com/a.git",
		"https://ghp_s3cret@git.example.com/a.git": "https://git.example.com/a.git",
		"ssh://git@example.com/a.git":              "ssh://example.com/a.git",
		"https://%zz@example.com":                  "(a URL that does not parse)",
		"/srv/git/a.git":                           "/srv/git/a.git",
		"git@example.com:team/a.git":               "git@example.com:team/a.git",
	}
	for in, want := range tests {
		got := RedactURL(in)
		if got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
		if strings.Contains(got, "s3cret") {
			t.Errorf("RedactURL(%q) keeps the password", in)
		}
	}
}
