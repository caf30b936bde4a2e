package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/baleen-ci/baleen"
	"github.com/google/go-cmp/cmp"
)

func TestCheckTree(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	dir := &fstest.MapFile{Mode: os.ModeDir | 0o755}
	tests := []struct {
		name string
		yml  string
		tree fstest.MapFS
		want []string // nil: no problems
	}{
		{"short form at the root", "build:\n  api: .\n",
			fstest.MapFS{"Dockerfile": file("FROM scratch")}, nil},
		{"long form", "build:\n  api:\n    context: svc\n    dockerfile: docker/Dockerfile.api\n",
			fstest.MapFS{"svc/docker/Dockerfile.api": file("FROM scratch")}, nil},
		{"context missing", "build:\n  api: svc\n", fstest.MapFS{"Dockerfile": file("")}, []string{
			`baleen.yml:2:8: build.api: build context "svc" does not exist in the repository`}},
		{"context is a file", "build:\n  api: svc\n", fstest.MapFS{"svc": file("")}, []string{
			`baleen.yml:2:8: build.api: build context "svc" is not a directory`}},
		{"dockerfile missing, short form", "build:\n  api: svc\n", fstest.MapFS{"svc/main.go": file("")}, []string{
			`baleen.yml:2:8: build.api: Dockerfile "svc/Dockerfile" does not exist in the repository`}},
		{"dockerfile missing, long form without keys", "build:\n  api: {target: x}\n", fstest.MapFS{"main.go": file("")}, []string{
			`baleen.yml:2:3: build.api: Dockerfile "Dockerfile" does not exist in the repository`}},
		{"dockerfile missing, named", "build:\n  api:\n    context: svc\n    dockerfile: Dockerfile.api\n",
			fstest.MapFS{"svc/Dockerfile": file("")}, []string{
				`baleen.yml:4:17: build.api: Dockerfile "svc/Dockerfile.api" does not exist in the repository`}},
		{"dockerfile is a directory", "build:\n  api: .\n", fstest.MapFS{"Dockerfile": dir}, []string{
			`baleen.yml:2:8: build.api: Dockerfile "Dockerfile" is not a regular file`}},
		{"every image checked", "build:\n  api: api\n  web: web\n  ok: .\n", fstest.MapFS{"Dockerfile": file("")}, []string{
			`baleen.yml:2:8: build.api: build context "api" does not exist in the repository`,
			`baleen.yml:3:8: build.web: build context "web" does not exist in the repository`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFile("baleen.yml", []byte(tt.yml))
			if err != nil {
				t.Fatalf("ParseFile: %v", err)
			}
			err = f.CheckTree(tt.tree)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckTree: got %v, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckTree: got no error, want %q", tt.want)
			}
			if !errors.Is(err, baleen.ErrInvalid) {
				t.Error("errors.Is(err, baleen.ErrInvalid): got false, want true")
			}
			if diff := cmp.Diff(tt.want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("CheckTree (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCheckTreeDir checks a real working copy, and the position-less CheckTree.
func TestCheckTreeDir(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "db"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/good/contract.yml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseFile("baleen.yml", data)
	if err != nil {
		t.Fatal(err)
	}
	tree := os.DirFS(root)
	want := `baleen.yml:6:17: build.migrate: Dockerfile "db/Dockerfile.migrate" does not exist in the repository`
	if err := f.CheckTree(tree); err == nil || err.Error() != want {
		t.Fatalf("File.CheckTree: got %v, want %q", err, want)
	}
	want = `baleen.yml: build.migrate: Dockerfile "db/Dockerfile.migrate" does not exist in the repository`
	if err := CheckTree(f.Spec, tree); err == nil || err.Error() != want {
		t.Fatalf("CheckTree: got %v, want %q", err, want)
	}
	if err := os.WriteFile(filepath.Join(root, "db", "Dockerfile.migrate"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.CheckTree(tree); err != nil {
		t.Fatalf("File.CheckTree: got %v, want no error", err)
	}
}
