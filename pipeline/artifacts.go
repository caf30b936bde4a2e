package pipeline

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// MaxArtifactBytes caps what one build may copy out of its test container, so that a test that writes a
// runaway file cannot fill the server's disk.
const MaxArtifactBytes = 2 << 30

// extractTar writes the regular files and directories of the tar stream r under dir and returns their paths
// relative to dir. Entries that would land outside dir, links and devices are skipped with a warning; budget
// is what may still be written, and what is written is taken off it. With mask, every secret in a path
// is masked (the file is kept under the masked name), and, with content too, in each file's content.
func extractTar(r io.Reader, dir string, budget *int64, warn func(string), mask *Masker, content bool) ([]string, error) {
	var files []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return files, fmt.Errorf("read artifact stream: %w", err)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "/"))
		if mask != nil {
			name = mask.String(name)
		}
		if name == "." || name == ".." || strings.HasPrefix(name, "../") || !filepath.IsLocal(filepath.FromSlash(name)) {
			warn(fmt.Sprintf("artifact entry %q leaves the artifacts directory; skipped", h.Name))
			continue
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return files, fmt.Errorf("create artifact dir: %w", err)
			}
		case tar.TypeReg:
			if h.Size > *budget {
				return files, fmt.Errorf("artifacts exceed %d MiB; %s not copied", MaxArtifactBytes>>20, name)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return files, fmt.Errorf("create artifact dir: %w", err)
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return files, fmt.Errorf("write artifact: %w", err)
			}
			n, err := copyMasked(f, io.LimitReader(tr, h.Size), mask, content)
			*budget -= n
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return files, fmt.Errorf("write artifact %s: %w", name, err)
			}
			files = append(files, filepath.ToSlash(name))
		default:
			warn(fmt.Sprintf("artifact entry %q is not a regular file or directory; skipped", h.Name))
		}
	}
}

// copyMasked copies r to w, through mask when content is set, and returns how much it read.
func copyMasked(w io.Writer, r io.Reader, mask *Masker, content bool) (int64, error) {
	if mask == nil || !content {
		return io.Copy(w, r)
	}
	m := mask.To(w)
	n, err := io.Copy(m, r)
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	return n, err
}
