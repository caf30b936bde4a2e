package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
)

// CheckTree checks the parsed file against the repository's files: every build context must be a
// directory, and its Dockerfile a file inside it. tree is rooted at the repository root (an fs.FS over a
// working copy or over a commit's tree). Each problem points at the key it came from. The error, if any, is
// an Errors.
func (f *File) CheckTree(tree fs.FS) error {
	var errs Errors
	for _, ib := range f.Spec.Build {
		at := f.images[ib.Name]
		where := func(p position, format string, args ...any) {
			errs = append(errs, &Error{File: f.name, Line: p.line, Col: p.col,
				Msg: fmt.Sprintf("build.%s: ", ib.Name) + fmt.Sprintf(format, args...)})
		}
		info, err := fs.Stat(tree, ib.Context)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			where(at.context, "build context %q does not exist in the repository", ib.Context)
			continue
		case err != nil:
			where(at.context, "build context %q: %v", ib.Context, err)
			continue
		case !info.IsDir():
			where(at.context, "build context %q is not a directory", ib.Context)
			continue
		}
		dockerfile := path.Join(ib.Context, ib.Dockerfile)
		info, err = fs.Stat(tree, dockerfile)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			where(at.dockerfile, "Dockerfile %q does not exist in the repository", dockerfile)
		case err != nil:
			where(at.dockerfile, "Dockerfile %q: %v", dockerfile, err)
		case !info.Mode().IsRegular():
			where(at.dockerfile, "Dockerfile %q is not a regular file", dockerfile)
		}
	}
	return errs.orNil()
}
