package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateLargeFile checks that a 10 MB file is reported with its real size, not the size read.
func TestValidateLargeFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "baleen.yml")
	const size = 10 << 20
	data := []byte("build: {api: .}\n# " + strings.Repeat("x", size-19) + "\n")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, nil, "validate", file)
	want := fmt.Sprintf("%s:1:1: the file is %d bytes, over the limit of 1048576 (1 MiB)\n", file, size)
	if code != exitUsage || errOut != want {
		t.Errorf("validate: got %d %q, want %d %q", code, errOut, exitUsage, want)
	}
}

// TestValidateWarnings checks that a valid file with a likely typo passes, saying what it suspects.
func TestValidateWarnings(t *testing.T) {
	file := filepath.Join(t.TempDir(), "baleen.yml")
	os.WriteFile(file, []byte("build: {api: .}\npush:\n  registry: r.example.com\n  tags: [comit]\n"), 0o644)
	code, out, errOut := runCLI(t, nil, "validate", file)
	want := file + `:4:10: warning: push.tags[0]: "comit" is a literal tag; did you mean commit?` + "\n"
	if code != exitOK || out != file+": valid\n" || errOut != want {
		t.Errorf("validate: got %d %q %q, want 0, valid and %q", code, out, errOut, want)
	}
}
