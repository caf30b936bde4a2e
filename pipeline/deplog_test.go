package pipeline_test

import (
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
)

// A dependency that dies without writing a line gets one line saying so, not a header over nothing.
func TestSilentDependencyHasNoEmptyLogFrame(t *testing.T) {
	f := newFixture(t, map[string]string{"Dockerfile": appDockerfile,
		"baleen.yml": "build: {pt-silent: .}\ndepends:\n  db: {image: pt-silent, command: [sh, -c, 'exit 3'], ready: {command: 'exit 1'}}\n"})
	res := f.run(t.Context())
	wantStatus(t, res, baleen.StatusFailed, baleen.StageDepends)
	f.wantOutput("dependency db: exited with code 3 before it was ready", "--- db wrote nothing to its log")
	if out := f.out.String(); strings.Contains(out, "log lines of db") {
		t.Errorf("output has a log header over an empty log:\n%s", out)
	}
}
