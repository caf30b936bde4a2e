package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestServeNothingRanIsRed pushes builds whose tests run nothing and exit 0: with artifacts.xunit set they
// are red and say which path was empty, unless baleen.yml allows it.
func TestServeNothingRanIsRed(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Docker")
	}
	s := newServer(t)
	s.start()
	silent := "#!/bin/sh\nexit 0\n"
	r := s.newRepo(projectFiles("e2e-silent", silent))
	want(t, r.push(s.url("silent"), "main"), 1,
		"artifacts.xunit: /app/out/junit.xml does not exist in the test container",
		"set artifacts.allow_no_tests: true",
		"(build #1 failed: artifacts)")

	r.write(map[string]string{"test.sh": "#!/bin/sh\nmkdir -p /app/out\necho '<testsuites><testsuite name=\"none\" tests=\"0\"/></testsuites>' > /app/out/junit.xml"})
	r.commit("an empty report")
	want(t, r.push(s.url("silent"), "main"), 1,
		"artifacts.xunit: /app/out/junit.xml holds no test case: did the test command run any test?",
		"(build #2 failed: artifacts)")

	// Tests that fail before writing a report are red for that alone: nothing-ran is not said twice.
	r.write(map[string]string{"test.sh": "#!/bin/sh\nexit 4\n"})
	r.commit("crash before any test")
	push := r.push(s.url("silent"), "main")
	want(t, push, 1, "tests exited with code 4", "(build #3 failed: test)")
	if strings.Contains(push.stderr, "so no test ran") {
		t.Errorf("a red test stage is also told that nothing ran:\n%s", push)
	}

	files := projectFiles("e2e-silent", silent)
	r.write(map[string]string{"test.sh": silent, "baleen.yml": strings.Replace(files["baleen.yml"], "artifacts:\n", "artifacts:\n  allow_no_tests: true\n", 1)})
	r.commit("no tests yet, and that is fine")
	want(t, r.push(s.url("silent"), "main"), 0, "remote: PASSED in")
}

// historyTest writes a JUnit report from the file results ("name pass|fail|flaky" per line; flaky fails
// while the FLAKE credential says so) and copies coverage.xml, and fails when a test failed.
const historyTest = `#!/bin/sh
mkdir -p /app/out
out=/app/out/junit.xml
echo '<testsuite name="app">' > $out
failed=0
while read name outcome; do
	if [ "$outcome" = flaky ]; then
		outcome=pass
		if [ "$FLAKE" = red-7f3a ]; then outcome=fail; fi
	fi
	if [ "$outcome" = fail ]; then
		echo "<testcase classname=\"app\" name=\"$name\" time=\"0.01\"><failure message=\"boom\"/></testcase>" >> $out
		failed=1
	else
		echo "<testcase classname=\"app\" name=\"$name\" time=\"0.02\"/>" >> $out
	fi
done < /app/results
echo '</testsuite>' >> $out
cp /app/coverage.xml /app/out/coverage.xml
exit $failed
`

func coverageXML(covered int) string {
	return fmt.Sprintf(`<coverage lines-covered="%d" lines-valid="1000" line-rate="%g"/>`, covered, float64(covered)/1000)
}

// TestServeTestHistory pushes a sequence of builds and reads, in the remote: lines, which failures are new,
// which fail since an earlier build, which were fixed, the coverage delta since the last green build, and
// a test that failed and then passed on a rebuild of the same commit, across a restart, marked flaky.
func TestServeTestHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Docker")
	}
	s := newServer(t)
	flake := filepath.Join(s.data, "flake")
	if err := os.WriteFile(flake, []byte("red-7f3a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(s.data, "config.yml")
	if err := os.WriteFile(config, []byte("credentials:\n  FLAKE: {file: "+flake+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start("--config", config)
	files := map[string]string{
		"Dockerfile":   "FROM {{busybox}}\nWORKDIR /app\nCOPY . /app\n",
		"baleen.yml":   "build:\n  e2e-history: .\ntest:\n  command: [/app/test.sh]\ncredentials: [FLAKE]\nartifacts:\n  xunit: /app/out/junit.xml\n  coverage: /app/out/coverage.xml\n",
		"test.sh":      historyTest,
		"results":      "a pass\nb pass\n",
		"coverage.xml": coverageXML(800),
	}
	r := s.newRepo(files)
	steps := []struct {
		results  string
		covered  int
		code     int
		want     []string
		wantNone []string
	}{
		{"a pass\nb pass\n", 800, 0, []string{"remote: tests: 2 passed, 0 failed, 0 skipped — coverage 80.0%"}, []string{"new failure", "since #"}},
		{"a fail\nb pass\n", 700, 1, []string{"remote: new failure: app.a", "remote: coverage 70.0% (-10.0 since #1)"}, nil},
		{"a fail\nb fail\n", 700, 1, []string{"remote: new failure: app.b", "remote: failing since #2: app.a"}, nil},
		{"a pass\nb pass\n", 813, 0, []string{"remote: fixed: app.a", "remote: fixed: app.b", "remote: coverage 81.3% (+1.3 since #1)"}, []string{"new failure"}},
		{"a pass\nb pass\nc flaky\n", 813, 1, []string{"remote: new failure: app.c"}, nil},
	}
	for i, st := range steps {
		if i > 0 {
			r.write(map[string]string{"results": st.results, "coverage.xml": coverageXML(st.covered)})
			r.commit(fmt.Sprintf("step %d", i+1))
		}
		push := r.push(s.url("hist"), "main")
		want(t, push, st.code, st.want...)
		for _, no := range st.wantNone {
			if strings.Contains(push.stderr, no) {
				t.Errorf("build #%d: output has %q, want none\n%s", i+1, no, push)
			}
		}
	}

	// The history survives a restart; a rebuild of the same commit that passes marks app.c flaky.
	s.stop(syscall.SIGTERM)
	s.start("--config", config)
	if err := os.WriteFile(flake, []byte("green-9c1b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want(t, s.ssh("rebuild", "hist", "5"), 0, "build #6 of hist", "flaky (failed and passed on one commit): app.c", "coverage 81.3% (+0.0 since #4)", "PASSED")

	// Later output keeps the mark.
	r.write(map[string]string{"results": "a pass\nb pass\nc fail\n"})
	r.commit("c fails for real")
	want(t, r.push(s.url("hist"), "main"), 1, "remote: new failure: app.c (flaky)")
}
