package gitd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// maxLinkHops bounds how many symbolic links Open follows, so that a link loop in a pushed tree ends.
const maxLinkHops = 40

// treeFS is a git tree as an fs.FS, read from the object store without a checkout. Files keep their
// executable bit; symbolic links are links (fs.ReadLinkFS), and Open follows them within the tree only;
// submodules read as empty directories. It is safe for concurrent use.
type treeFS struct {
	mu    sync.Mutex // go-git's Tree builds lookup maps lazily, and its storer caches objects
	s     storer.EncodedObjectStorer
	root  *object.Tree
	mtime time.Time
}

var (
	_ fs.FS         = (*treeFS)(nil)
	_ fs.ReadLinkFS = (*treeFS)(nil)
	_ fs.ReadDirFS  = (*treeFS)(nil)
)

// newTreeFS returns the tree of commit c as an fs.FS; every file reports the commit's time as its mtime.
func newTreeFS(s storer.EncodedObjectStorer, c *object.Commit) (*treeFS, error) {
	t, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("tree of %s: %w", c.Hash, err)
	}
	return &treeFS{s: s, root: t, mtime: c.Committer.When}, nil
}

// entry finds name (slash-separated, valid for fs) without following a final link.
func (t *treeFS) entry(name string) (object.TreeEntry, error) {
	if name == "." {
		return object.TreeEntry{Name: ".", Mode: filemode.Dir, Hash: t.root.Hash}, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e, err := t.root.FindEntry(name)
	if err != nil {
		return object.TreeEntry{}, fs.ErrNotExist
	}
	return *e, nil
}

// resolve follows links in every element of name and returns the entry it ends at, with its path.
func (t *treeFS) resolve(name string, hops *int) (object.TreeEntry, string, error) {
	if name == "." {
		e, err := t.entry(".")
		return e, ".", err
	}
	dir, base := path.Split(name)
	parent := "."
	if dir != "" {
		pe, pp, err := t.resolve(path.Clean(dir), hops)
		if err != nil {
			return pe, "", err
		}
		if pe.Mode != filemode.Dir {
			return pe, "", fs.ErrNotExist
		}
		parent = pp
	}
	full := path.Join(parent, base)
	e, err := t.entry(full)
	if err != nil {
		return e, "", err
	}
	if e.Mode != filemode.Symlink {
		return e, full, nil
	}
	*hops++
	if *hops > maxLinkHops {
		return e, "", fmt.Errorf("too many links: %w", fs.ErrNotExist)
	}
	target, err := t.readBlob(e)
	if err != nil {
		return e, "", err
	}
	if path.IsAbs(target) {
		return e, "", fmt.Errorf("link to %s leaves the tree: %w", target, fs.ErrNotExist)
	}
	next := path.Join(parent, target)
	if !fs.ValidPath(next) {
		return e, "", fmt.Errorf("link to %s leaves the tree: %w", target, fs.ErrNotExist)
	}
	return t.resolve(next, hops)
}

func (t *treeFS) readBlob(e object.TreeEntry) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, err := object.GetBlob(t.s, e.Hash)
	if err != nil {
		return "", err
	}
	r, err := b.Reader()
	if err != nil {
		return "", err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, 4096))
	return string(data), err
}

// Open opens name, following links within the tree.
func (t *treeFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	hops := 0
	e, full, err := t.resolve(name, &hops)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	info, err := t.info(path.Base(name), e)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if info.IsDir() {
		return &treeDir{t: t, path: full, info: info}, nil
	}
	t.mu.Lock()
	b, err := object.GetBlob(t.s, e.Hash)
	var r io.ReadCloser
	if err == nil {
		r, err = b.Reader()
	}
	t.mu.Unlock()
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &treeFile{ReadCloser: r, info: info}, nil
}

// ReadDir lists a directory, sorted by name.
func (t *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	f, err := t.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, ok := f.(*treeDir)
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return d.ReadDir(-1)
}

// ReadLink returns the target of the link name.
func (t *treeFS) ReadLink(name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	e, err := t.entry(name)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	if e.Mode != filemode.Symlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	target, err := t.readBlob(e)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	return target, nil
}

// Lstat describes name without following a final link.
func (t *treeFS) Lstat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: fs.ErrInvalid}
	}
	e, err := t.entry(name)
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: err}
	}
	return t.info(path.Base(name), e)
}

func (t *treeFS) info(name string, e object.TreeEntry) (*treeInfo, error) {
	fi := &treeInfo{name: name, mtime: t.mtime}
	switch e.Mode {
	case filemode.Dir, filemode.Submodule:
		fi.mode = fs.ModeDir | 0o755
	case filemode.Executable:
		fi.mode = 0o755
	case filemode.Symlink:
		fi.mode = fs.ModeSymlink | 0o777
	default:
		fi.mode = 0o644
	}
	if fi.mode.IsRegular() || fi.mode&fs.ModeSymlink != 0 {
		t.mu.Lock()
		size, err := t.s.EncodedObject(plumbing.AnyObject, e.Hash)
		t.mu.Unlock()
		if err != nil {
			return nil, err
		}
		fi.size = size.Size()
	}
	return fi, nil
}

type treeInfo struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
}

func (i *treeInfo) Name() string               { return i.name }
func (i *treeInfo) Size() int64                { return i.size }
func (i *treeInfo) Mode() fs.FileMode          { return i.mode }
func (i *treeInfo) ModTime() time.Time         { return i.mtime }
func (i *treeInfo) IsDir() bool                { return i.mode.IsDir() }
func (i *treeInfo) Sys() any                   { return nil }
func (i *treeInfo) Type() fs.FileMode          { return i.mode.Type() }
func (i *treeInfo) Info() (fs.FileInfo, error) { return i, nil }

type treeFile struct {
	io.ReadCloser
	info *treeInfo
}

func (f *treeFile) Stat() (fs.FileInfo, error) { return f.info, nil }

type treeDir struct {
	t       *treeFS
	path    string
	info    *treeInfo
	entries []fs.DirEntry
	read    bool
}

func (d *treeDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *treeDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.path, Err: errors.New("is a directory")}
}
func (d *treeDir) Close() error { return nil }

// ReadDir returns the next n entries (all when n <= 0), sorted by name.
func (d *treeDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		d.read = true
		entries, err := d.list()
		if err != nil {
			return nil, err
		}
		d.entries = entries
	}
	if n <= 0 {
		out := d.entries
		d.entries = nil
		return out, nil
	}
	if len(d.entries) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(d.entries))
	out := d.entries[:n]
	d.entries = d.entries[n:]
	return out, nil
}

func (d *treeDir) list() ([]fs.DirEntry, error) {
	e, err := d.t.entry(d.path)
	if err != nil || e.Mode == filemode.Submodule {
		return nil, err
	}
	d.t.mu.Lock()
	tree := d.t.root
	if d.path != "." {
		tree, err = object.GetTree(d.t.s, e.Hash)
	}
	var ents []object.TreeEntry
	if err == nil {
		ents = append(ents, tree.Entries...)
	}
	d.t.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, 0, len(ents))
	for _, te := range ents {
		fi, err := d.t.info(te.Name, te)
		if err != nil {
			return nil, err
		}
		out = append(out, fi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}
