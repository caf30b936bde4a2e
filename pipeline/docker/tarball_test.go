package docker

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// listTar lists a tar stream as "name mode" for directories and files and "name -> target" for links,
// with the content of files after a colon.
func listTar(t *testing.T, data []byte) []string {
	t.Helper()
	var got []string
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			got = append(got, fmt.Sprintf("%s %o", hdr.Name, hdr.Mode))
		case tar.TypeSymlink:
			got = append(got, fmt.Sprintf("%s -> %s", hdr.Name, hdr.Linkname))
		case tar.TypeReg:
			body, err := io.ReadAll(tr)
			if err != nil {
				t.Fatalf("read %s from tar: %v", hdr.Name, err)
			}
			got = append(got, fmt.Sprintf("%s %o: %s", hdr.Name, hdr.Mode, body))
		default:
			t.Errorf("tar entry %s: got type %c, want a directory, file or symlink", hdr.Name, hdr.Typeflag)
		}
		if hdr.ModTime.Unix() != 0 || hdr.Uid != 0 || hdr.Gid != 0 {
			t.Errorf("tar entry %s: got mtime %v uid %d gid %d, want epoch, 0, 0", hdr.Name, hdr.ModTime, hdr.Uid, hdr.Gid)
		}
	}
}

func TestWriteContext(t *testing.T) {
	file := func(data string, mode fs.FileMode) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte(data), Mode: mode}
	}
	tests := []struct {
		name       string
		fsys       fstest.MapFS
		dockerfile string
		want       []string
	}{
		{
			name: "no dockerignore keeps everything, sorted, with modes",
			fsys: fstest.MapFS{
				"Dockerfile":  file("FROM scratch\n", 0o644),
				"b/run.sh":    file("#!/bin/sh\n", 0o755),
				"a.txt":       file("a", 0),
				"b":           {Mode: fs.ModeDir | 0o750},
				"b/link":      {Data: []byte("run.sh"), Mode: fs.ModeSymlink | 0o777},
				"b/empty-dir": {Mode: fs.ModeDir},
			},
			dockerfile: "Dockerfile",
			want: []string{
				"Dockerfile 644: FROM scratch\n",
				"a.txt 644: a",
				"b/ 750",
				"b/empty-dir/ 755",
				"b/link -> run.sh",
				"b/run.sh 755: #!/bin/sh\n",
			},
		},
		{
			name: "ignored files and directories are left out",
			fsys: fstest.MapFS{
				".dockerignore":       file("# comment\nsecret.txt\nnode_modules\n*.log\n", 0o644),
				"Dockerfile":          file("FROM scratch\n", 0o644),
				"secret.txt":          file("s", 0o600),
				"keep.txt":            file("k", 0o644),
				"debug.log":           file("d", 0o644),
				"node_modules/x/y.js": file("y", 0o644),
			},
			dockerfile: "Dockerfile",
			want: []string{
				".dockerignore 644: # comment\nsecret.txt\nnode_modules\n*.log\n",
				"Dockerfile 644: FROM scratch\n",
				"keep.txt 644: k",
			},
		},
		{
			name: "exclusion patterns bring files back from ignored directories",
			fsys: fstest.MapFS{
				".dockerignore":    file("logs\n!logs/keep.log\n", 0o644),
				"Dockerfile":       file("FROM scratch\n", 0o644),
				"logs/keep.log":    file("k", 0o644),
				"logs/drop.log":    file("d", 0o644),
				"logs/sub/x.log":   file("x", 0o644),
				"other/inside.txt": file("i", 0o644),
			},
			dockerfile: "Dockerfile",
			want: []string{
				".dockerignore 644: logs\n!logs/keep.log\n",
				"Dockerfile 644: FROM scratch\n",
				"logs/keep.log 644: k",
				"other/ 555", // MapFS makes up its implicit directories read-only
				"other/inside.txt 644: i",
			},
		},
		{
			name: "the dockerfile and dockerignore are sent even when ignored",
			fsys: fstest.MapFS{
				".dockerignore":        file("*\n", 0o644),
				"build/Dockerfile.app": file("FROM scratch\n", 0o644),
				"src/main.go":          file("package main", 0o644),
			},
			dockerfile: "build/Dockerfile.app",
			want: []string{
				".dockerignore 644: *\n",
				"build/Dockerfile.app 644: FROM scratch\n",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := writeContext(&buf, tt.fsys, tt.dockerfile); err != nil {
				t.Fatalf("writeContext: %v", err)
			}
			if diff := cmp.Diff(tt.want, listTar(t, buf.Bytes())); diff != "" {
				t.Errorf("tar entries (-want +got):\n%s", diff)
			}
			var again bytes.Buffer
			if err := writeContext(&again, tt.fsys, tt.dockerfile); err != nil {
				t.Fatalf("writeContext again: %v", err)
			}
			if !bytes.Equal(buf.Bytes(), again.Bytes()) {
				t.Errorf("two tars of the same context differ: got %d and %d bytes, want the same bytes", buf.Len(), again.Len())
			}
		})
	}
}

func TestWriteContextDirFS(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	write("Dockerfile", "FROM scratch\n", 0o644)
	write("bin/tool", "#!/bin/sh\n", 0o755)
	write("tmp/junk", "j", 0o644)
	write(".dockerignore", "tmp\n", 0o644)
	if err := os.Symlink("bin/tool", filepath.Join(dir, "tool")); err != nil {
		t.Fatal(err)
	}
	// A link out of the context is stored as a link, never followed.
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "passwd")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}

	var buf bytes.Buffer
	if err := writeContext(&buf, os.DirFS(dir), "Dockerfile"); err != nil {
		t.Fatalf("writeContext: %v", err)
	}
	want := []string{
		".dockerignore 644: tmp\n",
		"Dockerfile 644: FROM scratch\n",
		"bin/ 755",
		"bin/tool 755: #!/bin/sh\n",
		"passwd -> /etc/passwd",
		"tool -> bin/tool",
	}
	if diff := cmp.Diff(want, listTar(t, buf.Bytes())); diff != "" {
		t.Errorf("tar entries (-want +got):\n%s", diff)
	}
}

// noLinks hides the fs.ReadLinkFS of the file system it wraps.
type noLinks struct{ fs.FS }

func TestWriteContextWithoutReadLinkFollowsNothing(t *testing.T) {
	fsys := fstest.MapFS{
		"Dockerfile": {Data: []byte("FROM scratch\n"), Mode: 0o644},
		"link":       {Data: []byte("Dockerfile"), Mode: fs.ModeSymlink | 0o777},
	}
	var buf bytes.Buffer
	if err := writeContext(&buf, noLinks{fsys}, "Dockerfile"); err != nil {
		t.Fatalf("writeContext: %v", err)
	}
	want := []string{"Dockerfile 644: FROM scratch\n"}
	if diff := cmp.Diff(want, listTar(t, buf.Bytes())); diff != "" {
		t.Errorf("tar entries (-want +got):\n%s", diff)
	}
}

func TestWriteContextBadIgnoreFile(t *testing.T) {
	fsys := fstest.MapFS{
		".dockerignore": {Data: []byte("[\n")},
		"Dockerfile":    {Data: []byte("FROM scratch\n")},
	}
	err := writeContext(io.Discard, fsys, "Dockerfile")
	if err == nil {
		t.Fatal("writeContext with a malformed pattern: got no error, want one")
	}
	if want := ".dockerignore"; !bytes.Contains([]byte(err.Error()), []byte(want)) {
		t.Errorf("error: got %q, want it to name %s", err, want)
	}
}
