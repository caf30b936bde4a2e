package baleen

import (
	"context"
	"io/fs"
)

// Repositories reads and updates the bare git repositories of projects; gitd implements it. Every method is
// safe for concurrent use.
type Repositories interface {
	// Tree returns the tree of commit in project's repository, read from the object store without a
	// checkout. Files keep their modes; symbolic links are readable through fs.ReadLinkFS.
	Tree(ctx context.Context, project, commit string) (fs.FS, error)
	// Resolve returns the full commit id that rev (a branch, a tag, a ref or an abbreviated commit id) names;
	// ErrNotFound if it names none.
	Resolve(ctx context.Context, project, rev string) (string, error)
	// SetRef points the reference name (e.g. "refs/baleen/builds/7") at commit.
	SetRef(ctx context.Context, project, name, commit string) error
}
