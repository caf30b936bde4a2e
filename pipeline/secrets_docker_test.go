package pipeline_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline"
)

// The two secrets of TestSecretsScopedAndMasked: the dependency lists the first, the subject the second.
const (
	depSecret  = "dep-s3cret-9f2e41"
	testSecret = "test-s3cret-7a1c08"
)

// plantingTest is a test command that plants the subject's secret wherever a test report or an artifact can
// carry it: a test case's name, a failure's message and output, a report file's name (which a warning
// quotes), and an artifact's file name. It first prints what the dependency vault sees in its environment.
const plantingTest = `#!/bin/sh
echo "--- vault's environment:"
wget -q -O- http://vault/env || { echo "vault unreachable"; exit 7; }
echo "--- end"
mkdir -p /out/reports /out/files
cat > /out/reports/junit.xml <<XML
<testsuite name="s"><testcase classname="app" name="ok_$TEST_SECRET"/><testcase classname="app" name="leaks_$TEST_SECRET"><failure message="got $TEST_SECRET">trace $TEST_SECRET</failure></testcase></testsuite>
XML
echo '<testsuite name="cut short' > "/out/reports/bad-$TEST_SECRET.xml"
echo kept > "/out/files/dump-$TEST_SECRET.txt"
`

// TestSecretsScopedAndMasked stops two leaks. A dependency (here a third-party image, busybox as it is)
// gets exactly the secrets its own credentials list, and not the subject's: it serves its environment, and
// the subject prints it. And a secret the test container plants in test names, failure messages, report
// warnings and artifact names is masked in the output, in the report kept with the build (which `ssh HOST
// report`, the web and the test history show), in the artifacts' names and in the reports' content.
func TestSecretsScopedAndMasked(t *testing.T) {
	f := newFixture(t, map[string]string{
		"Dockerfile": appDockerfile,
		"test.sh":    plantingTest,
		"baleen.yml": `
build:
  pt-app: .
credentials: [TEST_SECRET]
depends:
  vault:
    image: {{busybox}}
    command: ["sh", "-c", "mkdir -p /www && env > /www/env && exec httpd -f -p 80 -h /www"]
    credentials: [DEP_SECRET]
    ready: {command: "wget -q -O /dev/null http://127.0.0.1/env", timeout: 60s}
test:
  command: ["/app/test.sh"]
artifacts:
  xunit: /out/reports
  files: /out/files
`,
	})
	f.secrets = map[string]string{"DEP_SECRET": depSecret, "TEST_SECRET": testSecret}
	res := f.run(t.Context())
	out := f.out.String()

	// The dependency saw its own secret (masked in the output) and not the subject's.
	vault, _, _ := strings.Cut(out[strings.Index(out, "--- vault's environment:")+1:], "--- end")
	if !strings.Contains(vault, "DEP_SECRET="+pipeline.Mask) {
		t.Errorf("vault's environment lacks DEP_SECRET, masked; output:\n%s", out)
	}
	if strings.Contains(vault, "TEST_SECRET") {
		t.Errorf("vault's environment holds the subject's TEST_SECRET; output:\n%s", out)
	}

	// Nothing shows either value.
	for _, v := range []string{depSecret, testSecret} {
		if strings.Contains(out, v) {
			t.Errorf("the output shows a secret:\n%s", out)
		}
	}
	if res.Report == nil {
		t.Fatalf("got no report; output:\n%s", out)
	}
	if res.Report.Failed != 1 || len(res.Report.Failures) != 1 || len(res.Report.Cases) != 2 {
		t.Fatalf("report: got %+v, want one failure of two cases", res.Report)
	}
	kept := []string{res.Message}
	fl := res.Report.Failures[0]
	kept = append(kept, fl.Name, fl.Message, fl.Output)
	kept = append(kept, res.Report.Warnings...)
	for _, c := range res.Report.Cases {
		kept = append(kept, c.Name)
	}
	kept = append(kept, res.Artifacts...)
	for _, s := range kept {
		if strings.Contains(s, testSecret) {
			t.Errorf("the build's record keeps the secret: %q", s)
		}
	}
	if want := "leaks_" + pipeline.Mask; !strings.Contains(fl.Name, want) || !strings.Contains(fl.Message, "got "+pipeline.Mask) {
		t.Errorf("failure: got %+v, want its name to hold %q and its message %q", fl, want, "got "+pipeline.Mask)
	}
	if !strings.Contains(strings.Join(res.Report.Warnings, "\n"), "bad-"+pipeline.Mask+".xml") {
		t.Errorf("warnings: got %q, want one naming bad-%s.xml", res.Report.Warnings, pipeline.Mask)
	}
	if want := "files/files/dump-" + pipeline.Mask + ".txt"; !slices.Contains(res.Artifacts, want) {
		t.Errorf("artifacts: got %q, want %s among them", res.Artifacts, want)
	}

	// On disk: no file is named after the secret, and the reports, which `ssh HOST artifacts` serves, do
	// not hold it.
	err := filepath.WalkDir(f.artifacts, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.Contains(d.Name(), testSecret) {
			t.Errorf("artifact %s is named after the secret", p)
		}
		if !d.IsDir() && strings.Contains(filepath.ToSlash(p), "/xunit/") {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if strings.Contains(string(b), testSecret) {
				t.Errorf("report %s holds the secret:\n%s", p, b)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The test command exited 0: the build's verdict is its exit status.
	wantStatus(t, res, baleen.StatusPassed, "")
}
