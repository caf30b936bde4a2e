package report

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
)

// TestDocsSamples reads the JUnit and Cobertura samples of docs/baleen-yml.md and checks that they read as
// the text beside them says.
func TestDocsSamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/baleen-yml.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```xml\n(.*?)```\n\nreads as `([^`]*)`").FindAllStringSubmatch(string(doc), -1)
	if len(blocks) != 2 {
		t.Fatalf("got %d xml samples followed by \"reads as\", want 2", len(blocks))
	}
	dir := t.TempDir()
	for _, m := range blocks {
		sample, says := m[1], m[2]
		path := write(t, dir, "sample.xml", sample)
		var r *baleen.TestReport
		if strings.Contains(sample, "<coverage") {
			r = Read(nil, []string{path})
		} else {
			r = Read([]string{path}, nil)
		}
		got := strings.TrimPrefix(r.Summary(), "tests: no test reports — ")
		if got != says || len(r.Warnings) != 0 {
			t.Errorf("sample reads as %q with warnings %q, the docs say %q:\n%s", got, r.Warnings, says, sample)
		}
	}
}
