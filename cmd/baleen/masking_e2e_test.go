package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// plantingTest writes the secret PLANT wherever the test container can put it into what Baleen keeps: a
// test case's name, a failure's message and detail, a report file's name (quoted by a warning) and an
// artifact's file name; then it fails. In the XML the secret is escaped (its '&' is "&amp;"), so that only
// the masking of what is read from the report, not that of the file's bytes, can catch it there.
const plantingTest = `#!/bin/sh
mkdir -p /app/out/reports /app/out/files
X=$(echo "$PLANT" | sed 's/&/\&amp;/g')
cat > /app/out/reports/junit.xml <<XML
<testsuite name="s"><testcase classname="app" name="case_$X"><failure message="got $X">detail $X</failure></testcase><testcase classname="app" name="fine"/></testsuite>
XML
echo '<testsuite name="cut' > "/app/out/reports/bad-$PLANT.xml"
echo kept > "/app/out/files/dump-$PLANT.txt"
exit 1
`

// TestServeMasksPlantedSecrets stops a secret that the test container plants in test names, failure
// messages, report warnings and artifact names from reaching a reader: the push output, `ssh HOST logs`,
// `ssh HOST report`, `ssh HOST tests`, `ssh HOST builds --json` and the artifacts' names in `ssh HOST
// artifacts` all show it masked.
func TestServeMasksPlantedSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Docker")
	}
	const secret = "plant-5e8d&2b7c41"
	s := newServer(t)
	file := filepath.Join(s.data, "plant")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(s.data, "config.yml")
	if err := os.WriteFile(config, []byte("credentials:\n  PLANT: {file: "+file+", projects: [leaky]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start("--config", config)
	r := s.newRepo(map[string]string{
		"Dockerfile": "FROM {{busybox}}\nWORKDIR /app\nCOPY . /app\n",
		"baleen.yml": "build:\n  e2e-leaky: .\ncredentials: [PLANT]\ntest:\n  command: [/app/test.sh]\nartifacts:\n  xunit: /app/out/reports\n  files: /app/out/files\n",
		"test.sh":    plantingTest,
	})
	push := r.push(s.url("leaky"), "main")
	want(t, push, 1, "FAIL app.case_********: got ********")
	report := s.ssh("report", "leaky", "1")
	want(t, report, 0, "app.case_********", "bad-********.xml")
	tests := s.ssh("tests", "leaky")
	want(t, tests, 0, "app.case_********")
	builds := s.ssh("builds", "leaky", "--json")
	want(t, builds, 0, "files/files/dump-********.txt")
	arts := s.ssh("artifacts", "leaky", "1")
	want(t, arts, 0, "dump-********.txt")
	everything := push.stderr + push.stdout + s.ssh("logs", "leaky", "1").stdout + report.stdout + tests.stdout + builds.stdout + arts.stdout
	if strings.Contains(everything, secret) {
		t.Errorf("the planted secret reaches a reader:\n%s", everything)
	}
}
