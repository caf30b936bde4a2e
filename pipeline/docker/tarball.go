package docker

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"time"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// dockerignore is the name of the ignore file at the root of a build context.
const dockerignore = ".dockerignore"

// writeContext writes the build context fsys to w as a tar stream, one file at a time, in lexical order.
// It leaves out what the .dockerignore at the root of fsys excludes, except the Dockerfile (named relative
// to the root) and the .dockerignore itself, which the builder always needs. Directories, regular files
// and, when fsys implements fs.ReadLinkFS, symbolic links are stored with their permission bits; owners
// are root and times the Unix epoch. Symbolic links of a file system without fs.ReadLinkFS, devices,
// pipes and sockets are left out.
func writeContext(w io.Writer, fsys fs.FS, dockerfile string) error {
	pm, err := readIgnore(fsys, dockerfile)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	err = fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("read build context: %w", err)
		}
		if name == "." {
			return nil
		}
		if pm != nil {
			ignored, err := pm.MatchesOrParentMatches(name)
			if err != nil {
				return fmt.Errorf("match %s against %s: %w", name, dockerignore, err)
			}
			if ignored {
				// With no "!" pattern nothing below an ignored directory can come back.
				if d.IsDir() && !pm.Exclusions() {
					return fs.SkipDir
				}
				return nil
			}
		}
		return addEntry(tw, fsys, name, d)
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write build context: %w", err)
	}
	return nil
}

// readIgnore returns the matcher of the context's .dockerignore, or nil when it has none. Like the docker
// CLI, it re-includes the Dockerfile and the .dockerignore when a pattern excludes them.
func readIgnore(fsys fs.FS, dockerfile string) (*patternmatcher.PatternMatcher, error) {
	data, err := fs.ReadFile(fsys, dockerignore)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dockerignore, err)
	}
	patterns, err := ignorefile.ReadAll(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", dockerignore, err)
	}
	if len(patterns) == 0 {
		return nil, nil
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", dockerignore, err)
	}
	n := len(patterns)
	for _, name := range []string{dockerignore, path.Clean(dockerfile)} {
		ignored, err := pm.MatchesOrParentMatches(name)
		if err != nil {
			return nil, fmt.Errorf("match %s against %s: %w", name, dockerignore, err)
		}
		if ignored {
			patterns = append(patterns, "!"+name)
		}
	}
	if len(patterns) == n {
		return pm, nil
	}
	pm, err = patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", dockerignore, err)
	}
	return pm, nil
}

// addEntry writes the entry name of fsys to tw.
func addEntry(tw *tar.Writer, fsys fs.FS, name string, d fs.DirEntry) error {
	// A fixed time, so that the same tree gives the same bytes.
	hdr := &tar.Header{Name: name, ModTime: time.Unix(0, 0), Uname: "root", Gname: "root"}
	switch typ := d.Type(); {
	case typ.IsDir():
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("read build context: %w", err)
		}
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		hdr.Mode = permOr(info.Mode(), 0o755)
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write build context %s: %w", name, err)
		}
		return nil
	case typ&fs.ModeSymlink != 0:
		rl, ok := fsys.(fs.ReadLinkFS)
		if !ok {
			return nil
		}
		target, err := rl.ReadLink(name)
		if err != nil {
			return fmt.Errorf("read build context: %w", err)
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
		hdr.Mode = 0o777
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write build context %s: %w", name, err)
		}
		return nil
	case typ.IsRegular():
		return addFile(tw, fsys, hdr)
	}
	return nil
}

// addFile writes the regular file hdr.Name of fsys, header and content, to tw.
func addFile(tw *tar.Writer, fsys fs.FS, hdr *tar.Header) error {
	f, err := fsys.Open(hdr.Name)
	if err != nil {
		return fmt.Errorf("read build context: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read build context: %w", err)
	}
	if !info.Mode().IsRegular() {
		// The entry changed under us, or the file system resolves something that is not a plain file.
		return nil
	}
	hdr.Typeflag = tar.TypeReg
	hdr.Size = info.Size()
	hdr.Mode = permOr(info.Mode(), 0o644)
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write build context %s: %w", hdr.Name, err)
	}
	if _, err := io.CopyN(tw, f, hdr.Size); err != nil {
		return fmt.Errorf("write build context %s: %w", hdr.Name, err)
	}
	return nil
}

// permOr returns the permission bits of mode, or def when it has none (as in an fstest.MapFS entry
// made without a mode).
func permOr(mode fs.FileMode, def int64) int64 {
	if perm := mode.Perm(); perm != 0 {
		return int64(perm)
	}
	return def
}
