package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSyntaxErrorPositions: every YAML syntax error names the line and column of the problem, not only
// the line yaml's message gives (often that of the enclosing construct), so that an editor can jump to it.
func TestSyntaxErrorPositions(t *testing.T) {
	const build = "build: {api: .}\n"
	tests := []struct {
		name, in, want string
	}{
		{"key without a colon", "build:\n  api: .\n  web\n",
			"baleen.yml:3:3: invalid YAML: could not find expected ':'"},
		{"tab indentation", "build:\n\tapi: .\n",
			"baleen.yml:2:1: invalid YAML: found character that cannot start any token"},
		{"key indented less than its siblings", "build:\n  api: .\n web: .\n",
			"baleen.yml:3:2: invalid YAML: did not find expected key"},
		{"a colon inside a plain value", "build: api: .\n",
			"baleen.yml:1:11: invalid YAML: mapping values are not allowed in this context"},
		{"quote never closed", "build:\n  api: \"./app\ntest:\n  command: [x]\n",
			"baleen.yml:2:8: invalid YAML: found unexpected end of stream"},
		{"unknown escape", build + "test:\n  command: [\"a\\qb\"]\n",
			"baleen.yml:3:15: invalid YAML: found unknown escape character"},
		{"flow mapping never closed", "build: {api: .\ntest:\n  command: [x]\n",
			"baleen.yml:1:8: invalid YAML: did not find expected ',' or '}'"},
		{"list closed by a brace", build + "test:\n  command: [a, b}\n",
			"baleen.yml:3:12: invalid YAML: did not find expected ',' or ']'"},
		{"list never closed, after its last item", build + "test:\n  command: [sh, -c, 'echo hi'\n  timeout: 5m\n",
			"baleen.yml:3:29: invalid YAML: did not find expected ',' or ']'"},
		{"one bracket too many", "build: [a]]\n",
			"baleen.yml:1:11: invalid YAML: did not find expected key"},
		{"list item inside a mapping", "build:\n  api: .\n- x\n",
			"baleen.yml:3:1: invalid YAML: did not find expected key"},
		{"alias without a name", build + "test: {env: {X: *}}\n",
			"baleen.yml:2:17: invalid YAML: did not find expected alphabetic or numeric character"},
		{"columns count characters, not bytes", build + "# été\ntest: {command: [\"é\", 'b]}\n",
			"baleen.yml:3:23: invalid YAML: found unexpected end of stream"},
		{"unknown anchor", build + "test:\n  env: {X: *nope}\n",
			"baleen.yml:3:12: invalid YAML: unknown anchor 'nope' referenced"},
		{"NUL byte", build + "test: {command: [a\x00]}\n",
			"baleen.yml:2:19: a NUL byte: a baleen.yml is plain text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("baleen.yml", []byte(tt.in))
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse(%q):\n got %v\nwant %s", tt.in, err, tt.want)
			}
		})
	}
}

// TestEverySyntaxErrorHasAColumn breaks good files in every way a cut, a stray character or a tab can,
// and checks that each YAML syntax error that comes of it has a line and a column inside the file.
func TestEverySyntaxErrorHasAColumn(t *testing.T) {
	files, err := filepath.Glob("testdata/good/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("good samples: %v (%d files)", err, len(files))
	}
	checked := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(data); i += max(1, len(data)/60) {
			for _, in := range [][]byte{
				data[:i],
				append(append(append([]byte{}, data[:i]...), '\t'), data[i:]...),
				append(append(append([]byte{}, data[:i]...), '"'), data[i:]...),
				append(append(append([]byte{}, data[:i]...), ':', ']'), data[i:]...),
			} {
				_, err := Parse("baleen.yml", in)
				var es Errors
				if !errors.As(err, &es) {
					continue
				}
				for _, e := range es {
					if !strings.HasPrefix(e.Msg, "invalid YAML") {
						continue
					}
					checked++
					lines := strings.Count(string(in), "\n") + 1
					if e.Line < 1 || e.Line > lines || e.Col < 1 {
						t.Errorf("%s broken at byte %d: got %q, want a line in 1..%d and a column", f, i, e.Error(), lines)
					}
				}
			}
		}
	}
	if checked < 50 {
		t.Errorf("syntax errors checked: got %d, want at least 50 (the breakage made too few)", checked)
	}
	t.Logf("%d syntax errors checked", checked)
}

// TestSyntaxErrorInALongFile: the position is that of the problem however many lines come before it,
// although the file cut inside any of them ("    K") fails with the same message as the real error.
func TestSyntaxErrorInALongFile(t *testing.T) {
	var b strings.Builder
	b.WriteString("build: {api: .}\ntest:\n  env:\n")
	const entries = 5000
	for i := range entries {
		fmt.Fprintf(&b, "    K%d: value\n", i)
	}
	b.WriteString("  bad\n")
	_, err := Parse("baleen.yml", []byte(b.String()))
	want := fmt.Sprintf("baleen.yml:%d:3: invalid YAML: could not find expected ':'", entries+4)
	if err == nil || err.Error() != want {
		t.Errorf("Parse: got %v, want %s", err, want)
	}
}
