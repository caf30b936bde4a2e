package web

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/api"
	"github.com/google/go-cmp/cmp"
)

// The log endpoint with ?format=json sends the LogLines that `ssh logs --json` prints.
func TestAPILogJSON(t *testing.T) {
	f := newFixture(t, nil)
	f.build("api", "main", baleen.StatusPassed, nil, "==> build\nStep 1/1\n==> test\nok\n")
	secret, _, err := CreateToken(t.Context(), f.st, baleen.Identity{User: "wes", Fingerprint: "SHA256:wes"}, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, auth := f.client(""), []string{"Authorization", "Bearer " + secret}
	resp, body := get(t, c, f.ts.URL+"/api/v1/projects/api/builds/1/log?format=json", auth...)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("got %s %q:\n%s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	var got []api.LogLine
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		var l api.LogLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, l)
	}
	line := func(stage string, n int, text string) api.LogLine { return api.LogLine{Stage: stage, N: n, Text: text} }
	want := []api.LogLine{line("build", 1, "==> build"), line("build", 2, "Step 1/1"), line("test", 3, "==> test"), line("test", 4, "ok")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log lines (-want +got):\n%s", diff)
	}
	if resp, body := get(t, c, f.ts.URL+"/api/v1/projects/api/builds/1/log?format=xml", auth...); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "want text or json") {
		t.Errorf("format=xml: got %s %s, want 400 naming the formats", resp.Status, body)
	}
}
