package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var updateReadme = flag.Bool("update", false, "rewrite the README's sample push from a real push")

const (
	readmePath   = "../../README.md"
	sampleMarker = "<!-- sample-push:"
)

// sampleBlock returns the README and the start and end offsets of the body of the fenced block that follows
// the sample-push marker.
func sampleBlock(t *testing.T) (string, int, int) {
	t.Helper()
	data, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	m := strings.Index(readme, sampleMarker)
	if m < 0 {
		t.Fatalf("README.md has no %s marker", sampleMarker)
	}
	open := strings.Index(readme[m:], "```\n")
	if open < 0 {
		t.Fatal("README.md: no fenced block after the sample-push marker")
	}
	start := m + open + len("```\n")
	end := strings.Index(readme[start:], "```\n")
	if end < 0 {
		t.Fatal("README.md: the sample block is not closed")
	}
	return readme, start, start + end
}

// sampleOf turns the stderr of a real `git push baleen main` into the README's form: the command, the
// output with the image build's steps after the first cut to "...", and the URL of the server on port
// written as the quick start writes it.
func sampleOf(push, port string) string {
	var out []string
	out = append(out, "$ git push baleen main")
	skipping := false
	url := strings.NewReplacer("ssh://git@127.0.0.1:"+port+"/", "ssh://127.0.0.1:2222/", "ssh://127.0.0.1:"+port+"/", "ssh://127.0.0.1:2222/")
	for _, line := range strings.Split(strings.TrimRight(push, "\n"), "\n") {
		// git pads the server's lines with blanks to clear what a terminal showed before.
		line = strings.TrimRight(line, " \t\r")
		switch {
		case skipping && !strings.HasPrefix(line, "remote: ==> "):
			continue
		case strings.HasPrefix(line, "remote: Step 1/") || strings.HasPrefix(line, "remote: #1 "):
			// The builder's own lines differ with its cache and its parallel steps: the sample elides them.
			out = append(out, "...")
			skipping = true
			continue
		}
		skipping = false
		out = append(out, url.Replace(line))
	}
	return strings.Join(out, "\n") + "\n"
}

// variable matches what differs from one real push to the next: commit ids and instance ids, durations,
// and the time a line took.
var variable = regexp.MustCompile(`\b[0-9a-f]{7,40}\b|(\d+(\.\d+)?(ns|µs|ms|h|m|s))+\b`)

// normalize hides what differs between two real pushes, so that the README's sample and a new push compare.
func normalize(s string) string { return variable.ReplaceAllString(s, "_") }

// TestReadmeSample pushes examples/hello through a real server and checks that the README's sample push
// shows what the push printed, line by line, up to ids and durations; -update rewrites the sample.
func TestReadmeSample(t *testing.T) {
	if testing.Short() {
		t.Skip("pushes through a real server: needs Docker")
	}
	s := newServer(t)
	s.start()
	r := &repo{s: s, dir: filepath.Join(t.TempDir(), "hello")}
	if err := os.CopyFS(r.dir, os.DirFS("../../examples/hello")); err != nil {
		t.Fatal(err)
	}
	r.git("init", "-q", "-b", "main")
	r.commit("hello")
	push := r.push(s.url("hello"), "main")
	if push.code != 0 {
		t.Fatalf("push of examples/hello: %s", push)
	}
	got := sampleOf(push.stderr, s.port)
	readme, start, end := sampleBlock(t)
	if *updateReadme {
		if err := os.WriteFile(readmePath, []byte(readme[:start]+got+readme[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if diff := cmp.Diff(normalize(readme[start:end]), normalize(got)); diff != "" {
		t.Errorf("README.md's sample push differs from a real push of examples/hello (-README +push; go test ./cmd/baleen -run TestReadmeSample -update rewrites it):\n%s", diff)
	}
}
