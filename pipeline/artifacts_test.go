package pipeline

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type entry struct {
	name string
	typ  byte
	body string
}

func tarOf(t *testing.T, entries ...entry) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body))}
		if e.typ == tar.TypeSymlink {
			h.Linkname, h.Size = e.body, 0
		}
		if e.typ == tar.TypeDir {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return &buf
}

func TestExtractTar(t *testing.T) {
	dir := t.TempDir()
	var warnings []string
	budget := int64(1 << 20)
	files, err := extractTar(tarOf(t,
		entry{"reports/", tar.TypeDir, ""},
		entry{"reports/a.xml", tar.TypeReg, "<a/>"},
		entry{"reports/sub/b.xml", tar.TypeReg, "<b/>"},
		entry{"../evil", tar.TypeReg, "x"},
		entry{"/abs/../../evil2", tar.TypeReg, "x"},
		entry{"reports/link", tar.TypeSymlink, "/etc/passwd"},
	), dir, &budget, func(s string) { warnings = append(warnings, s) }, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"reports/a.xml", "reports/sub/b.xml"}, files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if got, want := len(warnings), 3; got != want {
		t.Errorf("got %d warnings %q, want %d", got, warnings, want)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "reports/sub/b.xml")); err != nil || string(b) != "<b/>" {
		t.Errorf("reports/sub/b.xml = %q, %v; want %q", b, err, "<b/>")
	}
	for _, p := range []string{filepath.Join(filepath.Dir(dir), "evil"), filepath.Join(dir, "reports/link")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s exists; it must not", p)
		}
	}
	if got, want := budget, int64(1<<20-8); got != want {
		t.Errorf("budget left: got %d, want %d", got, want)
	}
}

func TestExtractTarBudget(t *testing.T) {
	budget := int64(3)
	_, err := extractTar(tarOf(t, entry{"big", tar.TypeReg, "too big"}), t.TempDir(), &budget, func(string) {}, nil, false)
	if err == nil {
		t.Fatal("got nil error for artifacts over the budget, want one")
	}
}
