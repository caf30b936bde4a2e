package commands

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/gitd"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/store"
)

func newHandler(t testing.TB) *Handler {
	t.Helper()
	st, err := store.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if err := st.CreateProject(ctx, baleen.Project{Name: "api", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateProject(ctx, baleen.Project{Name: "empty", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	b, err := st.CreateBuild(ctx, baleen.Build{Project: "api", Commit: strings.Repeat("a", 40), Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	passed := baleen.StatusPassed
	cov := 90.0
	if _, err := st.UpdateBuild(ctx, "api", b.Number, baleen.BuildPatch{Status: &passed,
		Report: &baleen.TestReport{Passed: 2, Failed: 1, Failures: []baleen.TestFailure{{Name: "t.x", Message: "boom\nmore"}}, Coverage: &cov}}); err != nil {
		t.Fatal(err)
	}
	repos, err := gitd.NewRepositories(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sched := pipeline.NewScheduler(pipeline.SchedulerConfig{Projects: st, Builds: st, Repos: repos.WithFetch(gitd.FetchConfig{})})
	return &Handler{Projects: st, Builds: st, Repos: repos, Scheduler: sched,
		DeployKey: func() (string, error) { return "ssh-ed25519 AAAA baleen-deploy-key", nil }}
}

func call(h *Handler, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := h.Run(context.Background(), &baleen.Call{Args: args, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut})
	return code, out.String(), errOut.String()
}

func TestCommands(t *testing.T) {
	h := newHandler(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"no command", nil, ExitUsage, "Baleen ssh commands"},
		{"help", []string{"help"}, ExitOK, "logs <project> [<build>] [-f]"},
		{"unknown", []string{"shell"}, ExitUsage, `unknown command "shell"`},
		{"projects", []string{"projects"}, ExitOK, "api"},
		{"projects json", []string{"projects", "--json"}, ExitOK, `"name": "api"`},
		{"projects takes no argument", []string{"projects", "api"}, ExitUsage, "usage: projects"},
		{"builds", []string{"builds", "api"}, ExitOK, "2/3 passed"},
		{"builds flag after", []string{"builds", "api", "--json"}, ExitOK, `"status": "passed"`},
		{"builds flag before", []string{"builds", "--json", "api"}, ExitOK, `"number": 1`},
		{"builds unknown flag", []string{"builds", "api", "-x"}, ExitUsage, "flag provided but not defined"},
		{"builds missing project", []string{"builds"}, ExitUsage, "usage: builds <project>"},
		{"builds bad name", []string{"builds", "../etc"}, ExitUsage, "project name"},
		{"builds unknown project", []string{"builds", "nope"}, ExitFailed, `no project "nope"`},
		{"status", []string{"status", "api"}, ExitOK, "build #1 passed"},
		{"status no builds", []string{"status", "empty"}, ExitFailed, "has no builds yet"},
		{"report", []string{"report", "api", "1"}, ExitOK, "FAIL t.x: boom"},
		{"report unknown build", []string{"report", "api", "9"}, ExitFailed, "no build #9"},
		{"report bad build", []string{"report", "api", "-3"}, ExitUsage, "flag provided but not defined"},
		{"report zero", []string{"report", "api", "0"}, ExitUsage, `"0" is not a number`},
		{"logs json of a unit refused", []string{"logs", "api", "--unit", "web", "--json"}, ExitUsage, "--json is for a build's log"},
		{"artifacts none kept", []string{"artifacts", "api", "1"}, ExitFailed, "kept no artifacts"},
		{"artifacts of the latest build", []string{"artifacts", "api"}, ExitFailed, "kept no artifacts"},
		{"artifacts needs a project", []string{"artifacts"}, ExitUsage, "usage: artifacts <project> [<build>]"},
		{"cancel ended", []string{"cancel", "api"}, ExitFailed, "already ended"},
		{"logs follow of an ended build", []string{"logs", "api", "-f"}, ExitOK, ""},
		{"rebuild without repository", []string{"rebuild", "api", "1"}, ExitFailed, "no repository"},
		{"rebuild unknown ref", []string{"rebuild", "api", "nobranch"}, ExitFailed, "names no build, ref or commit"},
		{"deploy-key", []string{"deploy-key"}, ExitOK, "ssh-ed25519 AAAA"},
		{"deploy-key extra", []string{"deploy-key", "x"}, ExitUsage, "usage: deploy-key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := call(h, tt.args...)
			if code != tt.wantCode {
				t.Errorf("got exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			if !strings.Contains(out+errOut, tt.want) {
				t.Errorf("output lacks %q\nstdout: %s\nstderr: %s", tt.want, out, errOut)
			}
		})
	}
}

// FuzzCommands: no command line makes the handler panic, and every answer is a known exit code.
func FuzzCommands(f *testing.F) {
	for _, s := range []string{"builds api", "logs api 1 -f", "report --json api 1", "rebuild ../x", "cancel api -1",
		"artifacts api 1", "status", "projects --json --json", "logs api #1", "artifacts api --tar --json", "logs api --json -f",
		"logs api --unit x --json", "token list --json --all"} {
		f.Add(s)
	}
	h := newHandler(f)
	f.Fuzz(func(t *testing.T, line string) {
		code, _, _ := call(h, strings.Fields(line)...)
		switch code {
		case ExitOK, ExitFailed, ExitUsage, ExitInfra, ExitInternal:
		default:
			t.Fatalf("%q: exit %d", line, code)
		}
	})
}

// An engine fault is no verdict on the code: listings must not call it a failed test.
func TestStatusWordInfrastructure(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    baleen.Build
		want string
	}{
		{"red test", baleen.Build{Status: baleen.StatusFailed, FailedStage: baleen.StageTest, Message: "tests failed"}, "failed (test)"},
		{"engine fault", baleen.Build{Status: baleen.StatusFailed, FailedStage: baleen.StageTest, Message: baleen.InfrastructureReason + "engine x stopped answering"}, "failed (infrastructure)"},
		{"passed", baleen.Build{Status: baleen.StatusPassed}, "passed"},
	} {
		if got := statusWord(tc.b); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// `<command> --help` is a question, not a mistake: usage on stdout and exit 0, for the commands that parse
// their own words (token, tests, mirror) too.
func TestCommandHelpFlag(t *testing.T) {
	h := newHandler(t)
	for _, args := range [][]string{{"builds", "--help"}, {"logs", "-h"}, {"projects", "--help"}, {"token", "--help"}, {"tests", "-h"}, {"mirror", "--help"}} {
		code, stdout, stderr := call(h, args...)
		if code != ExitOK || !strings.HasPrefix(stdout, "usage: "+args[0]) || stderr != "" {
			t.Errorf("%q: got exit %d, stdout %q, stderr %q; want 0 and the usage on stdout", args, code, stdout, stderr)
		}
	}
}

// A build that stopped before its tests must not be told to set artifacts.xunit: its tests never ran.
func TestNoReportSaysWhy(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    baleen.Build
		want string
	}{
		{"stopped at build", baleen.Build{Status: baleen.StatusFailed, FailedStage: baleen.StageBuild,
			Stages: []baleen.StageResult{{Stage: baleen.StageBuild, Status: baleen.StatusFailed}}}, "the tests did not run (the build stopped at build)"},
		{"running", baleen.Build{Status: baleen.StatusRunning}, "has not reached its tests"},
		{"reads no reports", baleen.Build{Status: baleen.StatusPassed,
			Stages: []baleen.StageResult{{Stage: baleen.StageArtifacts, Status: baleen.StatusPassed}}}, "set artifacts.xunit"},
	} {
		if got := noReport(tc.b); !strings.Contains(got, tc.want) {
			t.Errorf("%s: got %q, want it to say %q", tc.name, got, tc.want)
		}
	}
}
