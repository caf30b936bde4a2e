package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSyntaxErrorLineAndColumn: a YAML syntax error reaches the user with its line and column, from
// `baleen validate` and from the server, which refuses the push with the same words.
func TestSyntaxErrorLineAndColumn(t *testing.T) {
	const bad = "build:\n  api: .\n  web\n"
	const wantErr = "baleen.yml:3:3: invalid YAML: could not find expected ':'"
	dir := t.TempDir()
	file := filepath.Join(dir, "baleen.yml")
	if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, nil, "validate", file)
	if code != exitUsage || errOut != filepath.Join(dir, wantErr)+"\n" {
		t.Errorf("validate: got %d %q, want %d %q", code, errOut, exitUsage, filepath.Join(dir, wantErr)+"\n")
	}

	s := newServer(t)
	s.start()
	r := s.newRepo(map[string]string{"baleen.yml": bad})
	want(t, r.push(s.url("syntax"), "main"), 1, "remote: --> config failed in", wantErr)
}
