package commands

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/api"
	"github.com/baleen-ci/baleen/pipeline/docker/pool"
)

// A reader of api must not learn from `engines` that another project exists or builds, though the slots
// its builds hold still count.
func TestEnginesHideBuildsOfUnreadableProjects(t *testing.T) {
	h, reader := policyHandler(t)
	p, err := pool.New(pool.Config{"build-1": {Host: "tcp://127.0.0.1:1", Slots: 3}}, pool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	for _, id := range []baleen.BuildID{"api-1-abc", "empty-7-abc", "empty-8-r2-abc"} {
		l, err := p.Acquire(context.Background(), id, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(l.Release)
	}
	h.Engines = PoolEngines(p)
	code, out, errOut := callAs(h, reader, "engines")
	if code != ExitOK || !strings.Contains(out, "api-1-abc") || !strings.Contains(out, "3/3") || strings.Contains(out, "empty") {
		t.Errorf("engines: exit %d, want api-1-abc, 3/3 and no build of empty\n%s%s", code, out, errOut)
	}
	code, out, errOut = callAs(h, reader, "engines", "--json")
	var got []api.Engine
	if code != ExitOK || json.Unmarshal([]byte(out), &got) != nil || len(got) != 1 {
		t.Fatalf("engines --json: exit %d\n%s%s", code, out, errOut)
	}
	if got[0].InUse != 3 || len(got[0].Builds) != 1 || got[0].Builds[0] != "api-1-abc" {
		t.Errorf("engines --json: in use %d, builds %v; want 3 and [api-1-abc]", got[0].InUse, got[0].Builds)
	}
}

// A reader of api who may not read the project api depends on must not see that project's branch, commit
// or build number through api's build: in report, status, builds and projects, as text or JSON.
func TestDependencyOfUnreadableProjectIsHidden(t *testing.T) {
	h, reader := policyHandler(t)
	ctx := context.Background()
	if err := h.Projects.CreateProject(ctx, baleen.Project{Name: "secretdb", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	deps := []baleen.DependencyBuild{{Name: "db", Project: "secretdb", Branch: "hidden-branch", Commit: strings.Repeat("c", 40), Build: 3}}
	if _, err := h.Builds.UpdateBuild(ctx, "api", 1, baleen.BuildPatch{Dependencies: deps}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"report", "api", "1"}, {"report", "api", "--json"}, {"status", "api", "--json"},
		{"builds", "api", "--json"}, {"projects", "--json"}} {
		code, out, errOut := callAs(h, reader, args...)
		if code != ExitOK {
			t.Errorf("%v: exit %d: %s", args, code, errOut)
		}
		for _, secret := range []string{"secretdb", "hidden-branch", "ccccccc"} {
			if strings.Contains(out, secret) {
				t.Errorf("%v shows %q of a project the reader may not read:\n%s", args, secret, out)
			}
		}
	}
	if _, out, _ := callAs(h, reader, "report", "api", "1"); !strings.Contains(out, "dependency db: a build of a project you may not read") {
		t.Errorf("report does not say the dependency is hidden:\n%s", out)
	}
	// Without a policy every caller reads every project: the dependency is shown in full.
	h.Authz = nil
	if _, out, _ := call(h, "report", "api", "1"); !strings.Contains(out, "dependency db: secretdb hidden-branch") {
		t.Errorf("report without a policy hides the dependency:\n%s", out)
	}
}

// Stored metadata (a branch, a pusher, a stage's message, a test's name and message) is written by whoever
// pushed: shown as metadata, none of its control characters or escape sequences may reach the caller's
// terminal, as text or JSON. A build's log is its output and passes as it is.
func TestMetadataCannotDriveTheTerminal(t *testing.T) {
	h := newHandler(t)
	ctx := context.Background()
	evil := "x\x1b]0;owned\x07\x1b[2J\r\u009b31m\u202eY"
	b, err := h.Builds.CreateBuild(ctx, baleen.Build{Project: "api", Commit: strings.Repeat("b", 40), Branch: "main" + evil, Pusher: "p" + evil})
	if err != nil {
		t.Fatal(err)
	}
	failed, stage, msg := baleen.StatusFailed, baleen.StageTest, "msg"+evil
	if _, err := h.Builds.UpdateBuild(ctx, "api", b.Number, baleen.BuildPatch{Status: &failed, FailedStage: &stage,
		Stages:  []baleen.StageResult{{Stage: baleen.StageTest, Status: baleen.StatusFailed, Message: "m" + evil}},
		Message: &msg,
		Report:  &baleen.TestReport{Failed: 1, Failures: []baleen.TestFailure{{Name: "t" + evil, Message: "f" + evil}}, Warnings: []string{"w" + evil}}}); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"status api", "status api --json", "builds api", "builds api --json", "report api", "report api --json",
		"projects", "projects --json", "cancel api 1", "logs api " + evil, "report api " + evil} {
		code, out, errOut := call(h, strings.Fields(line)...)
		for _, bad := range []string{"\x1b", "\x07", "\r", "\u009b", "\u202e"} {
			if strings.Contains(out, bad) || strings.Contains(errOut, bad) {
				t.Errorf("%q (exit %d) writes %q:\nstdout: %q\nstderr: %q", line, code, bad, out, errOut)
				break
			}
		}
		if strings.HasSuffix(line, "--json") && !json.Valid([]byte(out)) {
			t.Errorf("%q: not JSON:\n%s", line, out)
		}
	}
}

// The cleaning holds a character cut between two writes, so that a C1 control split in two is caught and a
// letter split in two is kept.
func TestCleanWriterAcrossWrites(t *testing.T) {
	for _, tc := range []struct {
		parts []string
		want  string
	}{
		{[]string{"a\xc2", "\x9bb"}, "a?b"},
		{[]string{"caf\xc3", "\xa9\n"}, "café\n"},
		{[]string{"tab\there\x1b[1m"}, "tab\there?[1m"},
		{[]string{"bad \xff byte"}, "bad ? byte"},
		{[]string{"cut \xe2\x80"}, "cut ?"},
	} {
		var b strings.Builder
		cw := newCleanWriter(&b)
		for _, p := range tc.parts {
			if n, err := cw.Write([]byte(p)); n != len(p) || err != nil {
				t.Fatalf("%q: wrote %d, %v", p, n, err)
			}
		}
		if err := cw.Flush(); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("%q: got %q, want %q", tc.parts, b.String(), tc.want)
		}
	}
}

// A build or release number that is not one is a wrong argument: exit 2, naming the argument and the usage,
// for every command that takes one; and "--" ends the flags, so that what follows it is an argument.
func TestBadNumbersAndDoubleDash(t *testing.T) {
	h := newHandler(t)
	for _, args := range [][]string{{"logs", "api", "0"}, {"report", "api", "x"}, {"artifacts", "api", "99999999999999999999"},
		{"cancel", "api", "+1"}, {"deploy", "api", "1.5"}, {"rollback", "api", "#"}, {"logs", "api", "--", "-3"}, {"status", "api", "٣"}} {
		code, out, errOut := call(h, args...)
		if code != ExitUsage || !strings.Contains(errOut, args[len(args)-1]) || !strings.Contains(errOut, "usage: "+args[0]+" <project>") {
			t.Errorf("%q: exit %d, want %d naming the argument and the usage\nstdout: %s\nstderr: %s", args, code, ExitUsage, out, errOut)
		}
	}
	if code, out, errOut := call(h, "builds", "--", "api", "--json"); code != ExitUsage || strings.Contains(out, "{") {
		t.Errorf("builds -- api --json: exit %d, want %d: the --json after -- is an argument\nstdout: %s\nstderr: %s", code, ExitUsage, out, errOut)
	}
	if code, out, errOut := call(h, "report", "api", "#1"); code != ExitOK {
		t.Errorf("report api #1: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}

// FuzzCommandArgs: any words at all (empty ones, spaces, control characters, odd unicode) make no panic; each
// answer is a known exit code; a refusal says why on stderr; a --json answer that succeeds is JSON (a JSON
// object per line for logs); and nothing of what the handler writes carries an escape character.
func FuzzCommandArgs(f *testing.F) {
	for _, s := range []string{"builds\x00api", "logs\x00api\x00\x001", "report\x00--json\x00api\x00#1", "status\x00--\x00api",
		"logs\x00api\x00--json", "artifacts\x00api\x00--json", "token\x00list\x00--json", "projects\x00--json", "tests\x00api\x00--json",
		"cancel\x00api\x00 1", "engines\x00--json", "logs\x00api\x00--unit\x00--\x00-f", "help\x00\x1b[2J"} {
		f.Add(s)
	}
	h := newHandler(f)
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, "\x00")
		code, out, errOut := call(h, args...)
		switch code {
		case ExitOK, ExitFailed, ExitUsage, ExitInfra, ExitInternal:
		default:
			t.Fatalf("%q: exit %d", args, code)
		}
		if code != ExitOK && strings.TrimSpace(errOut) == "" {
			t.Fatalf("%q: exit %d with nothing on stderr", args, code)
		}
		if strings.Contains(errOut, "\x1b") || (args[0] != "logs" && strings.Contains(out, "\x1b")) {
			t.Fatalf("%q: writes an escape:\nstdout: %q\nstderr: %q", args, out, errOut)
		}
		if code != ExitOK || !slices.Contains(args, "--json") || slices.Contains(args, "--") {
			return
		}
		if args[0] == "logs" {
			for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				if l != "" && !json.Valid([]byte(l)) {
					t.Fatalf("%q: a line that is not JSON: %q", args, l)
				}
			}
			return
		}
		if !json.Valid([]byte(out)) {
			t.Fatalf("%q: not JSON:\n%s", args, out)
		}
	})
}

// A build that another project's build started names that project in its pusher ("dependency of X#N",
// "rebuild after X main"): a reader who may not read X must not learn it from the build.
func TestPusherNamingUnreadableProjectIsHidden(t *testing.T) {
	h, reader := policyHandler(t)
	ctx := context.Background()
	for _, pusher := range []string{"dependency of secretapp#4", "rebuild after secretapp hidden-branch"} {
		if _, err := h.Builds.CreateBuild(ctx, baleen.Build{Project: "api", Commit: strings.Repeat("d", 40), Branch: "main", Pusher: pusher}); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"status", "api"}, {"status", "api", "--json"}, {"builds", "api", "--json"}, {"projects", "--json"}} {
			code, out, errOut := callAs(h, reader, args...)
			if code != ExitOK || strings.Contains(out, "secretapp") || strings.Contains(out, "hidden-branch") {
				t.Errorf("%v after a build by %q: exit %d, shows the other project:\n%s%s", args, pusher, code, out, errOut)
			}
			if !strings.Contains(out, "a project you may not read") {
				t.Errorf("%v after a build by %q does not say who, in general:\n%s", args, pusher, out)
			}
		}
	}
	h.Releases = h.Projects.(baleen.ReleaseStore)
	if _, err := h.Releases.CreateRelease(ctx, baleen.Release{Project: "api", Build: 1, Target: "prod", By: "push by rebuild after secretapp hidden-branch"}); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := callAs(h, reader, "releases", "api", "--json"); code != ExitOK || strings.Contains(out, "secretapp") ||
		!strings.Contains(out, `"by": "push by rebuild after a project you may not read"`) {
		t.Errorf("releases --json: exit %d, want the release's by without the other project:\n%s%s", code, out, errOut)
	}
	h.Authz = nil
	if _, out, _ := call(h, "status", "api"); !strings.Contains(out, "rebuild after secretapp hidden-branch") {
		t.Errorf("status without a policy hides the pusher:\n%s", out)
	}
}

// `artifacts --json` of a build that kept none is an empty list, as GET .../artifacts answers and as
// docs/api.md promises of every list; the table and --tar still say that there is nothing.
func TestArtifactsJSONOfNoneIsEmptyList(t *testing.T) {
	h := newHandler(t)
	if code, out, errOut := call(h, "artifacts", "api", "1", "--json"); code != ExitOK || strings.TrimSpace(out) != "[]" {
		t.Errorf("artifacts --json of none: exit %d, %q, %s; want 0 and []", code, out, errOut)
	}
	for _, args := range [][]string{{"artifacts", "api", "1"}, {"artifacts", "api", "--tar"}} {
		if code, _, errOut := call(h, args...); code != ExitFailed || !strings.Contains(errOut, "kept no artifacts") {
			t.Errorf("%v of none: exit %d, %s", args, code, errOut)
		}
	}
}

// A server without the part a command needs answers exit 1 for every such command: deploy-key too.
func TestDeployKeyOfServerThatFetchesNothing(t *testing.T) {
	h := newHandler(t)
	h.DeployKey = nil
	if code, _, errOut := call(h, "deploy-key"); code != ExitFailed || !strings.Contains(errOut, "fetches no repositories") {
		t.Errorf("deploy-key without a key: exit %d, %s; want %d", code, errOut, ExitFailed)
	}
}
