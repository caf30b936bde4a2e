package commands

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/api"
	"github.com/baleen-ci/baleen/gitd"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/pipeline/docker/pool"
	"github.com/baleen-ci/baleen/store"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the commands' output")

// goldenCaller is the key the golden calls are made with.
const goldenCaller = "SHA256:goldenkeygoldenkeygoldenkeygoldenkeygolden"

// t0 is when the fixture's history starts.
var t0 = time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)

// goldenCases are the command lines whose output testdata/<name>.golden holds: every command of the
// table, and each --json it accepts.
var goldenCases = []struct{ name, line string }{
	{"help", "help"},
	{"projects", "projects"},
	{"projects.json", "projects --json"},
	{"builds", "builds api"},
	{"builds.json", "builds api --json"},
	{"logs", "logs api 1"},
	{"logs.json", "logs api 1 --json"},
	{"logs-empty.json", "logs empty-log --json"},
	{"status", "status api"},
	{"status.json", "status api --json"},
	{"status-no-builds", "status empty"},
	{"report", "report api 1"},
	{"report.json", "report api 1 --json"},
	{"report-no-tests", "report api 3"},
	{"report-no-tests.json", "report api 3 --json"},
	{"artifacts", "artifacts api 1"},
	{"artifacts.json", "artifacts api 1 --json"},
	{"artifacts-none", "artifacts api 2"},
	{"rebuild", "rebuild api nobranch"},
	{"cancel", "cancel api 1"},
	{"releases", "releases api"},
	{"releases.json", "releases api --json"},
	{"deploy", "deploy api 1"},
	{"rollback", "rollback api"},
	{"deploy-key", "deploy-key"},
	{"tests", "tests api --branch main"},
	{"tests.json", "tests api --branch main --json"},
	{"whoami", "whoami"},
	{"web-login", "web-login"},
	{"web-logout", "web-logout"},
	{"token-list", "token list"},
	{"token-list.json", "token list --json"},
	{"token-revoke", "token revoke nosuchtoken"},
	{"deliveries", "deliveries"},
	{"deliveries.json", "deliveries --json"},
	{"redeliver", "redeliver 1"},
	{"mirror", "mirror list"},
	{"sync", "sync api"},
	{"engines", "engines"},
	{"engines.json", "engines --json"},
	{"gc", "gc --dry-run"},
	{"backup", "backup"},
}

// TestGolden runs each command line on a store filled with fixed data and compares its exit code, stdout
// and stderr with testdata/<name>.golden; -update rewrites the files. JSON output must also parse.
func TestGolden(t *testing.T) {
	h := goldenHandler(t)
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := h.Run(t.Context(), &baleen.Call{Args: strings.Fields(tc.line), Stdin: strings.NewReader(""), Stdout: &out,
				Stderr: &errOut, Identity: baleen.Identity{Fingerprint: goldenCaller}})
			if strings.Contains(tc.line, "--json") && code == ExitOK {
				checkJSON(t, out.Bytes())
			}
			got := fmt.Sprintf("$ ssh HOST %s\nexit %d\n-- stdout --\n%s-- stderr --\n%s", tc.line, code, out.String(), errOut.String())
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update to write it)", err)
			}
			if got != string(want) {
				t.Errorf("%s: got\n%s\nwant\n%s", tc.line, got, want)
			}
		})
	}
}

// checkJSON fails unless out is one JSON document, or one per line (logs --json).
func checkJSON(t *testing.T, out []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
	}
}

// Every command of the table has a golden file: a new command cannot go untested.
func TestGoldenCoversEveryCommand(t *testing.T) {
	covered := map[string]bool{}
	for _, tc := range goldenCases {
		covered[strings.Fields(tc.line)[0]] = true
		if _, err := os.Stat(filepath.Join("testdata", tc.name+".golden")); err != nil && !*update {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	for _, c := range table {
		if !covered[c.name] {
			t.Errorf("command %s has no golden case", c.name)
		}
		if c.json && !covered[c.name] {
			continue
		}
		if c.json && !hasJSONCase(c.name) {
			t.Errorf("command %s takes --json but has no golden --json case", c.name)
		}
	}
}

func hasJSONCase(name string) bool {
	for _, tc := range goldenCases {
		if f := strings.Fields(tc.line); f[0] == name && strings.Contains(tc.line, "--json") {
			return true
		}
	}
	return false
}

// goldenHandler is a Handler on a store holding fixed projects, builds, logs, artifacts, releases, test
// history, deliveries and tokens.
func goldenHandler(t *testing.T) *Handler {
	t.Helper()
	st, err := store.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := t.Context()
	for i, name := range []string{"api", "empty", "empty-log"} {
		must(t, st.CreateProject(ctx, baleen.Project{Name: name, Created: t0.Add(time.Duration(i) * time.Minute)}))
	}
	arts := t.TempDir()
	fillBuilds(t, ctx, st, arts)
	fillRecords(t, ctx, st)
	repos, err := gitd.NewRepositories(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sched := pipeline.NewScheduler(pipeline.SchedulerConfig{Projects: st, Builds: st, Repos: repos.WithFetch(gitd.FetchConfig{})})
	return &Handler{Projects: st, Builds: st, Repos: repos, Scheduler: sched, ArtifactsDir: arts, Releases: st,
		Tests: st, Deliveries: st, Tokens: st, DockerHost: "unix:///var/run/docker.sock",
		DeployKey: func() (string, error) { return "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGolden baleen-deploy-key", nil }}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fillBuilds makes api #1 (main, green, with a report, artifacts and a log), #2 (feature, red at test)
// and #3 (main, red at config), and empty-log #1 with a log of nothing.
func fillBuilds(t *testing.T, ctx context.Context, st *store.Store, arts string) {
	cov, branches := 81.25, 60.0
	builds := []struct {
		b baleen.Build
		p baleen.BuildPatch
	}{
		{baleen.Build{Project: "api", Commit: strings.Repeat("a1", 20), Branch: "main", Pusher: "alice (SHA256:alice)", Created: t0.Add(time.Hour)},
			baleen.BuildPatch{Status: ptr(baleen.StatusPassed), Started: ptr(t0.Add(time.Hour + time.Second)), Finished: ptr(t0.Add(time.Hour + 95*time.Second)),
				Stages: []baleen.StageResult{{Stage: baleen.StageBuild, Status: baleen.StatusPassed, Duration: 61234 * time.Millisecond},
					{Stage: baleen.StageTest, Status: baleen.StatusPassed, Duration: 30 * time.Second}, {Stage: baleen.StageArtifacts, Status: baleen.StatusPassed, Duration: 5 * time.Millisecond}},
				Report:    &baleen.TestReport{Passed: 3, Skipped: 1, Coverage: &cov, BranchCoverage: &branches},
				Artifacts: []string{"coverage/cobertura.xml", "xunit/junit.xml"}, Images: map[string]string{"app": "api-1-x:app"},
				Pushed:       []baleen.PushedImage{{Ref: "registry.example/api:main", Digest: "sha256:" + strings.Repeat("d", 64)}},
				Dependencies: []baleen.DependencyBuild{{Name: "db", Project: "db", Branch: "main", Commit: strings.Repeat("c", 40), Build: 4, Reused: true}}}},
		{baleen.Build{Project: "api", Commit: strings.Repeat("b2", 20), Branch: "feature", Pusher: "bob (SHA256:bob)", Created: t0.Add(2 * time.Hour)},
			baleen.BuildPatch{Status: ptr(baleen.StatusFailed), Started: ptr(t0.Add(2 * time.Hour)), Finished: ptr(t0.Add(2*time.Hour + 40*time.Second)),
				FailedStage: ptr(baleen.StageTest), Message: ptr("tests failed: 1 of 4"),
				Stages: []baleen.StageResult{{Stage: baleen.StageBuild, Status: baleen.StatusPassed, Duration: 20 * time.Second},
					{Stage: baleen.StageTest, Status: baleen.StatusFailed, Duration: 20 * time.Second, Message: "exit code 1\nmore"}},
				Report: &baleen.TestReport{Passed: 3, Failed: 1, Failures: []baleen.TestFailure{{Name: "api.TestLogin", Message: "want 200, got 500\nat login_test.go:12"}}}}},
		{baleen.Build{Project: "api", Commit: strings.Repeat("c3", 20), Branch: "main", Pusher: "alice (SHA256:alice)", Signer: "SHA256:alicesigned", Created: t0.Add(3 * time.Hour)},
			baleen.BuildPatch{Status: ptr(baleen.StatusFailed), Started: ptr(t0.Add(3 * time.Hour)), Finished: ptr(t0.Add(3*time.Hour + 10*time.Millisecond)),
				FailedStage: ptr(baleen.StageConfig), Message: ptr("baleen.yml:3: unknown key biuld"),
				Stages: []baleen.StageResult{{Stage: baleen.StageConfig, Status: baleen.StatusFailed, Duration: 10 * time.Millisecond, Message: "baleen.yml:3: unknown key biuld"}}}},
		{baleen.Build{Project: "empty-log", Commit: strings.Repeat("e", 40), Branch: "main", Created: t0.Add(4 * time.Hour)},
			baleen.BuildPatch{Status: ptr(baleen.StatusCancelled), Finished: ptr(t0.Add(4 * time.Hour))}},
	}
	for _, x := range builds {
		b, err := st.CreateBuild(ctx, x.b)
		must(t, err)
		_, err = st.UpdateBuild(ctx, b.Project, b.Number, x.p)
		must(t, err)
	}
	w, err := st.LogWriter(ctx, "api", 1)
	must(t, err)
	_, err = w.Write([]byte("==> build\nStep 1/2 : FROM busybox\n\x1b[32mok\x1b[0m\n==> test\nrunning api-1-x:app\nPASS\n==> artifacts\nno trailing newline"))
	must(t, err)
	must(t, w.Close())
	for name, body := range map[string]string{"coverage/cobertura.xml": "<coverage/>\n", "xunit/junit.xml": "<testsuites></testsuites>\n"} {
		p := filepath.Join(arts, "api", "1", filepath.FromSlash(name))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(body), 0o644))
	}
}

// fillRecords makes a release, the test history, two deliveries and two tokens.
func fillRecords(t *testing.T, ctx context.Context, st *store.Store) {
	rel, err := st.CreateRelease(ctx, baleen.Release{Project: "api", Build: 1, Commit: strings.Repeat("a1", 20), Target: "prod",
		Images: map[string]string{"app": "registry.example/api@sha256:" + strings.Repeat("d", 64)}, Started: t0.Add(5 * time.Hour), By: "push by alice"})
	must(t, err)
	_, err = st.UpdateRelease(ctx, "api", rel.Number, baleen.ReleasePatch{Status: ptr(baleen.StatusPassed), Finished: ptr(t0.Add(5*time.Hour + 12500*time.Millisecond)),
		Hosts: []baleen.HostResult{{Host: "web1", Status: baleen.StatusPassed}, {Host: "web2", Status: baleen.StatusPassed}}})
	must(t, err)
	for i, outcome := range []baleen.TestOutcome{baleen.TestPassed, baleen.TestFailed} {
		must(t, st.RecordTests(ctx, baleen.TestRun{Project: "api", Number: i + 1, Branch: "main", Commit: strings.Repeat("a1", 20), Created: t0.Add(time.Duration(i+1) * time.Hour),
			Cases: []baleen.TestCase{{Name: "api.TestLogin", Outcome: outcome, Duration: 1500 * time.Millisecond}, {Name: "api.TestHealth", Outcome: baleen.TestPassed, Duration: 2 * time.Millisecond}}}))
	}
	_, err = st.CreateDelivery(ctx, baleen.Delivery{Sink: "hooks", Event: "build.failed", Project: "api", Build: 2, Message: json.RawMessage(`{}`),
		Status: baleen.DeliveryDelivered, Attempts: 1, Code: 204, Created: t0.Add(2 * time.Hour), Last: t0.Add(2*time.Hour + time.Second)})
	must(t, err)
	_, err = st.CreateDelivery(ctx, baleen.Delivery{Sink: "mail", Event: "build.failed", Project: "api", Build: 3, Message: json.RawMessage(`{}`),
		Status: baleen.DeliveryPending, Attempts: 2, Error: "dial tcp 127.0.0.1:25: connection refused", Created: t0.Add(3 * time.Hour),
		Last: t0.Add(3*time.Hour + time.Minute), Next: t0.Add(3*time.Hour + 5*time.Minute)})
	must(t, err)
	me := baleen.Identity{User: "carol", Fingerprint: goldenCaller}
	must(t, st.CreateToken(ctx, baleen.APIToken{ID: "0123456789ab", Hash: strings.Repeat("1", 64), Identity: me, Created: t0}))
	must(t, st.CreateToken(ctx, baleen.APIToken{ID: "ba9876543210", Hash: strings.Repeat("2", 64), Identity: me, ReadOnly: true,
		Created: t0.Add(time.Hour), Expires: t0.Add(30 * 24 * time.Hour)}))
}

func ptr[T any](v T) *T { return &v }

// artifacts lists unless --tar asks for the files: a tar stream is never written where a terminal might
// print it, as the server cannot see whether the client's stdout is one.
func TestArtifactsTar(t *testing.T) {
	h := goldenHandler(t)
	code, out, errOut := call(h, "artifacts", "api", "1", "--tar")
	if code != ExitOK {
		t.Fatalf("artifacts --tar: exit %d: %s", code, errOut)
	}
	tr := tar.NewReader(strings.NewReader(out))
	var names []string
	for {
		hd, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("artifacts --tar: %v", err)
		}
		names = append(names, hd.Name)
	}
	if want := []string{"coverage/cobertura.xml", "xunit/junit.xml"}; !slices.Equal(names, want) {
		t.Errorf("artifacts --tar: got %v, want %v", names, want)
	}
	if code, _, errOut := call(h, "artifacts", "api", "--tar", "--json"); code != ExitUsage || !strings.Contains(errOut, "pick one") {
		t.Errorf("artifacts --tar --json: got %d %q, want %d and pick one", code, errOut, ExitUsage)
	}
}

// engines --json on a pool gives each engine in the shape every --json shares; its text is the pool's table.
func TestEnginesPoolJSON(t *testing.T) {
	p, err := pool.New(pool.Config{
		"build-1": {Host: "tcp://127.0.0.1:1", Slots: 2, Labels: []string{"amd64"}},
		"build-2": {Host: "unix:///nonexistent/docker.sock"},
	}, pool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	h := &Handler{Engines: PoolEngines(p)}
	code, out, errOut := call(h, "engines", "--json")
	if code != ExitOK {
		t.Fatalf("engines --json: exit %d: %s", code, errOut)
	}
	var got []api.Engine
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("engines --json: %v\n%s", err, out)
	}
	for i := range got {
		got[i].Since = time.Time{} // when the pool was made
	}
	want := []api.Engine{
		{Name: "build-1", Host: "tcp://127.0.0.1:1", State: "up", Labels: []string{"amd64"}, Slots: 2, Builds: []string{}},
		{Name: "build-2", Host: "unix:///nonexistent/docker.sock", State: "up", Labels: []string{}, Slots: 1, Builds: []string{}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("engines --json (-want +got):\n%s", diff)
	}
	if code, out, _ := call(h, "engines"); code != ExitOK || !strings.Contains(out, "build-1  up     0/2") {
		t.Errorf("engines: got %d\n%s", code, out)
	}
}
