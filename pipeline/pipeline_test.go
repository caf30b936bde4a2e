package pipeline_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/pipeline/docker"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
	"github.com/baleen-ci/baleen/pipeline/spec"
)

// syncBuffer is a bytes.Buffer safe for the pipeline's concurrent writers, that can tell when a text has
// appeared.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wait  string
	found chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	if s.found != nil && strings.Contains(s.b.String(), s.wait) {
		close(s.found)
		s.found = nil
	}
	return n, err
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// when returns a channel closed once text has been written.
func (s *syncBuffer) when(text string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	s.wait, s.found = text, ch
	return ch
}

type fixture struct {
	t         *testing.T
	engine    *docker.Engine
	id        baleen.BuildID
	files     fstest.MapFS
	secrets   map[string]string
	out       syncBuffer
	artifacts string
}

// newFixture makes a repository whose files are given; "{{busybox}}" in them stands for the test image.
func newFixture(t *testing.T, files map[string]string) *fixture {
	t.Helper()
	e := dockertest.Engine(t)
	bb := dockertest.BusyboxImage(t)
	f := &fixture{t: t, engine: e, id: dockertest.BuildID(t), files: fstest.MapFS{}, artifacts: t.TempDir()}
	for name, body := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		f.files[name] = &fstest.MapFile{Data: []byte(strings.ReplaceAll(body, "{{busybox}}", bb)), Mode: mode}
	}
	dockertest.Cleanup(t, e, f.id)
	return f
}

func (f *fixture) run(ctx context.Context) baleen.Result {
	f.t.Helper()
	parsed, err := spec.ParseFile("baleen.yml", f.files["baleen.yml"].Data)
	if err != nil {
		f.t.Fatalf("parse baleen.yml: %v", err)
	}
	if err := parsed.CheckTree(f.files); err != nil {
		f.t.Fatalf("check tree: %v", err)
	}
	s := parsed.Spec
	res, err := pipeline.New(f.engine, nil).Run(ctx, pipeline.Run{
		ID: f.id, Spec: s, Source: f.files, ArtifactsDir: f.artifacts, Secrets: f.secrets, Out: &f.out,
	})
	if err != nil {
		f.t.Fatalf("Run: got error %v, want a result\noutput:\n%s", err, f.out.String())
	}
	if left := dockertest.Leftovers(f.t, f.id); len(left) != 0 {
		f.t.Errorf("after the build: got leftovers %v, want none", left)
	}
	return res
}

func (f *fixture) wantOutput(texts ...string) {
	f.t.Helper()
	out := f.out.String()
	for _, s := range texts {
		if !strings.Contains(out, s) {
			f.t.Errorf("output lacks %q; it is:\n%s", s, out)
		}
	}
}

func wantStatus(t *testing.T, res baleen.Result, status baleen.Status, stage baleen.Stage) {
	t.Helper()
	if res.Status != status || res.FailedStage != stage {
		t.Errorf("got status %s at stage %q (%s), want %s at stage %q", res.Status, res.FailedStage, res.Message, status, stage)
	}
}

// appDockerfile copies the repository into /app of the busybox image.
const appDockerfile = "FROM {{busybox}}\nWORKDIR /app\nCOPY . /app\n"

// slowDB serves /www over HTTP on port 80, but only after a delay: a test that reaches it proves that the
// pipeline waited for it to be ready.
const slowDB = `#!/bin/sh
echo "db: warming up"
mkdir -p /www && echo rows > /www/data
sleep 2
touch /tmp/ready
echo "db: serving"
exec httpd -f -p 80 -h /www
`

const reportingTest = `#!/bin/sh
mkdir -p /app/out/reports
wget -q -O /app/out/data http://db/data || { echo "db unreachable"; exit 7; }
cat > /app/out/reports/junit.xml <<XML
<testsuite name="s"><testcase classname="app" name="reads_db"/><testcase classname="app" name="broken"><failure message="want 2, got 3">trace</failure></testcase><testcase classname="app" name="later"><skipped/></testcase></testsuite>
XML
echo '<testsuite name="cut short' > /app/out/reports/broken.xml
cat > /app/out/coverage.xml <<XML
<coverage lines-covered="3" lines-valid="4" line-rate="0.75"><packages/></coverage>
XML
echo "tests ran"
exit ${EXIT:-0}
`

func TestPipelinePassesWithReadyDependency(t *testing.T) {
	f := newFixture(t, map[string]string{
		"Dockerfile": appDockerfile,
		"db.sh":      slowDB,
		"test.sh":    reportingTest,
		"baleen.yml": `
build:
  pt-app: .
depends:
  db:
    image: pt-app
    command: ["/app/db.sh"]
    ready:
      command: wget -q -O /dev/null http://127.0.0.1/data
      timeout: 60s
test:
  command: ["/app/test.sh"]
artifacts:
  xunit: /app/out/reports
  coverage: /app/out/coverage.xml
  files: [/app/out/data, /app/missing.txt]
`,
	})
	res := f.run(t.Context())
	wantStatus(t, res, baleen.StatusPassed, "")
	f.wantOutput("==> build", "==> depends", "db: ready (ready command)", "tests ran",
		"tests: 1 passed, 1 failed, 1 skipped — coverage 75.0%", "FAIL app.broken: want 2, got 3",
		"warning: artifact files: /app/missing.txt does not exist", "warning: test report xunit/reports/broken.xml", "PASSED in")
	if res.Report == nil || res.Report.Passed != 1 || res.Report.Failed != 1 || res.Report.Skipped != 1 {
		t.Errorf("report: got %+v, want 1 passed, 1 failed, 1 skipped", res.Report)
	}
	if b, err := os.ReadFile(filepath.Join(f.artifacts, "files", "data")); err != nil || string(b) != "rows\n" {
		t.Errorf("artifact files/data = %q, %v; want the db's rows", b, err)
	}
	if _, err := os.Stat(filepath.Join(f.artifacts, "xunit", "reports", "junit.xml")); err != nil {
		t.Errorf("xunit artifact: %v", err)
	}
	if got, want := res.Images["pt-app"], f.id.ImageTag("pt-app"); got != want {
		t.Errorf("image: got %q, want %q", got, want)
	}
	if _, err := f.engine.Client().ImageInspect(t.Context(), "pt-app:latest"); err != nil {
		t.Errorf("pt-app:latest after a green build: %v", err)
	}
	var stages []baleen.Stage
	for _, s := range res.Stages {
		stages = append(stages, s.Stage)
	}
	if got, want := stages, []baleen.Stage{"build", "depends", "test", "artifacts", "tag"}; !equal(got, want) {
		t.Errorf("stages: got %v, want %v", got, want)
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPipelineWaitsForHealthcheck(t *testing.T) {
	f := newFixture(t, map[string]string{
		"Dockerfile":    appDockerfile,
		"db/Dockerfile": "FROM {{busybox}}\nCOPY db.sh /db.sh\nHEALTHCHECK --interval=1s --timeout=1s --retries=30 CMD test -f /tmp/ready\nCMD [\"/db.sh\"]\n",
		"db/db.sh":      slowDB,
		"test.sh":       reportingTest,
		"baleen.yml": `
build:
  pt-health: .
  pt-health-db: db
depends:
  db:
    image: pt-health-db
test:
  image: pt-health
  command: ["/app/test.sh"]
`,
	})
	res := f.run(t.Context())
	wantStatus(t, res, baleen.StatusPassed, "")
	f.wantOutput("db: ready (healthcheck)", "tests ran")
}

func TestPipelineFailingTests(t *testing.T) {
	f := newFixture(t, map[string]string{
		"Dockerfile": appDockerfile,
		"db.sh":      "#!/bin/sh\nmkdir -p /www && echo rows > /www/data && exec httpd -f -p 80 -h /www\n",
		"test.sh":    reportingTest,
		"baleen.yml": `
build: {pt-red: .}
depends:
  db: {image: pt-red, command: ["/app/db.sh"], ready: {command: "wget -q -O /dev/null http://127.0.0.1/data"}}
test:
  command: ["/app/test.sh"]
  env: {EXIT: "3"}
artifacts:
  xunit: /app/out/reports
`,
	})
	res := f.run(t.Context())
	wantStatus(t, res, baleen.StatusFailed, baleen.StageTest)
	f.wantOutput("tests exited with code 3", "tests: 1 passed, 1 failed, 1 skipped", "FAILED in")
	if res.Report == nil || len(res.Report.Failures) != 1 || res.Report.Failures[0].Name != "app.broken" {
		t.Errorf("report: got %+v, want the failure app.broken", res.Report)
	}
	if _, err := f.engine.Client().ImageInspect(t.Context(), "pt-red:latest"); err == nil {
		t.Error("pt-red:latest exists after a red build; want no latest tag")
	}
}

func TestPipelineFailures(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string]string
		stage     baleen.Stage
		wantTexts []string
	}{
		{
			name:      "dockerfile fails",
			files:     map[string]string{"Dockerfile": "FROM {{busybox}}\nRUN echo building && exit 42\n", "baleen.yml": "build: {pt-bad: .}\n"},
			stage:     baleen.StageBuild,
			wantTexts: []string{"image pt-bad:", "exit code: 42"},
		},
		{
			name:  "dependency exits",
			files: map[string]string{"Dockerfile": appDockerfile, "baleen.yml": "build: {pt-exit: .}\ndepends:\n  db: {image: pt-exit, command: [sh, -c, 'echo db-is-dying; exit 3'], ready: {command: 'exit 1'}}\n"},
			stage: baleen.StageDepends,
			wantTexts: []string{"dependency db: exited with code 3 before it was ready",
				"last 20 log lines of db", "db-is-dying"},
		},
		{
			name: "dependency never ready",
			files: map[string]string{"Dockerfile": appDockerfile, "baleen.yml": `
build: {pt-never: .}
depends:
  db:
    image: pt-never
    command: [sh, -c, 'echo db-log-line; exec sleep 600']
    ready: {command: "echo not-yet; exit 1", timeout: 2s}
`},
			stage:     baleen.StageDepends,
			wantTexts: []string{"dependency db: not ready after 2s (ready command last exited 1: not-yet)", "db-log-line"},
		},
		{
			name:      "image that does not exist",
			files:     map[string]string{"Dockerfile": appDockerfile, "baleen.yml": "build: {pt-noimg: .}\ndepends:\n  db: {image: 'baleen-test/does-not-exist:never'}\n"},
			stage:     baleen.StageDepends,
			wantTexts: []string{"baleen-test/does-not-exist:never"},
		},
		{
			name:      "test timeout",
			files:     map[string]string{"Dockerfile": appDockerfile, "baleen.yml": "build: {pt-slow: .}\ntest: {command: [sleep, '600'], timeout: 2s}\n"},
			stage:     baleen.StageTest,
			wantTexts: []string{"tests timed out after 2s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.files)
			res := f.run(t.Context())
			wantStatus(t, res, baleen.StatusFailed, tt.stage)
			f.wantOutput(tt.wantTexts...)
		})
	}
}

// TestPipelineMasksSecrets stops a credential's value from reaching the build output, while the container
// still gets it.
func TestPipelineMasksSecrets(t *testing.T) {
	f := newFixture(t, map[string]string{
		"Dockerfile": appDockerfile,
		"baleen.yml": "build: {pt-secret: .}\ncredentials: [API_TOKEN]\ntest:\n  command: [sh, -c, 'test \"$API_TOKEN\" = s3cr3t-value && echo \"token is $API_TOKEN\"']\n",
	})
	f.secrets = map[string]string{"API_TOKEN": "s3cr3t-value"}
	res := f.run(t.Context())
	wantStatus(t, res, baleen.StatusPassed, "")
	f.wantOutput("token is " + pipeline.Mask)
	if strings.Contains(f.out.String(), "s3cr3t-value") {
		t.Errorf("output holds the secret:\n%s", f.out.String())
	}
}

func TestPipelineCancelCleansUp(t *testing.T) {
	f := newFixture(t, map[string]string{
		"Dockerfile": appDockerfile,
		"baleen.yml": "build: {pt-cancel: .}\ndepends:\n  db: {image: pt-cancel, command: [sleep, '600']}\ntest: {command: [sh, -c, 'echo long-test-started; exec sleep 600']}\n",
	})
	ctx, cancel := context.WithCancel(t.Context())
	started := f.out.when("long-test-started")
	go func() {
		<-started
		cancel()
	}()
	res := f.run(ctx)
	if res.Status != baleen.StatusCancelled {
		t.Errorf("got status %s, want cancelled\n%s", res.Status, f.out.String())
	}
	f.wantOutput("CANCELLED after")
}

// maskReport writes a JUnit report whose failure carries the API_TOKEN credential, and fails.
const maskReport = `#!/bin/sh
mkdir -p /out
cat > /out/j.xml <<XML
<testsuite><testcase classname="c" name="n"><failure message="bad $API_TOKEN">$API_TOKEN</failure></testcase></testsuite>
XML
exit 1
`

// TestPipelineMasksSecretsInRecords stops a credential from reaching what is kept beside the output: the
// reason a stage failed (a ready command's last words) and the messages of failed tests.
func TestPipelineMasksSecretsInRecords(t *testing.T) {
	const token = "tok-9f8e7d6c5b4a"
	tests := []struct {
		name  string
		yml   string
		stage baleen.Stage
	}{
		{"ready command prints it", "build: {pt-mask-ready: .}\ncredentials: [API_TOKEN]\ndepends:\n  db:\n    image: pt-mask-ready\n    command: [sleep, '600']\n    credentials: [API_TOKEN]\n    ready: {command: 'echo \"token=$API_TOKEN\"; exit 1', timeout: 2s}\n", baleen.StageDepends},
		{"test report carries it", "build: {pt-mask-report: .}\ncredentials: [API_TOKEN]\ntest:\n  command: [/app/report.sh]\nartifacts: {xunit: /out/j.xml}\n", baleen.StageTest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, map[string]string{"Dockerfile": appDockerfile, "baleen.yml": tt.yml, "report.sh": maskReport})
			f.secrets = map[string]string{"API_TOKEN": token}
			res := f.run(t.Context())
			wantStatus(t, res, baleen.StatusFailed, tt.stage)
			kept := res.Message
			for _, s := range res.Stages {
				kept += "\n" + s.Message
			}
			if res.Report != nil {
				for _, fl := range res.Report.Failures {
					kept += "\n" + fl.Message + "\n" + fl.Output
				}
			}
			if strings.Contains(kept+f.out.String(), token) {
				t.Errorf("the secret is kept in the records or the output:\n%s\n%s", kept, f.out.String())
			}
			if !strings.Contains(kept, pipeline.Mask) {
				t.Errorf("records show no mask where the secret was:\n%s", kept)
			}
		})
	}
}
