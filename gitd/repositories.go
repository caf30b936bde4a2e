package gitd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/baleen-ci/baleen"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// Repositories reads and updates the bare repositories under a directory, one per project at
// <dir>/<project>.git. It implements baleen.Repositories; each call opens the repository afresh, so calls
// for one project may run side by side.
type Repositories struct {
	dir string
	// fetch is set by WithFetch; without it, fetches are anonymous and ssh:// sources are refused.
	fetch *fetcher
}

var _ baleen.Repositories = (*Repositories)(nil)

// NewRepositories returns the Repositories kept under dir.
func NewRepositories(dir string) (*Repositories, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("repositories dir: %w", err)
	}
	return &Repositories{dir: abs}, nil
}

func (r *Repositories) open(project string) (*git.Repository, error) {
	if err := baleen.ValidateProjectName(project); err != nil {
		return nil, err
	}
	repo, err := git.PlainOpen(filepath.Join(r.dir, project+".git"))
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, fmt.Errorf("project %s has no repository: %w", project, baleen.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", project, err)
	}
	return repo, nil
}

// Tree returns the tree of commit in project's repository.
func (r *Repositories) Tree(_ context.Context, project, commit string) (fs.FS, error) {
	repo, err := r.open(project)
	if err != nil {
		return nil, err
	}
	c, err := repo.CommitObject(plumbing.NewHash(commit))
	if err != nil {
		return nil, fmt.Errorf("commit %s of %s: %w", commit, project, baleen.ErrNotFound)
	}
	return newTreeFS(repo.Storer, c)
}

// Resolve returns the full commit id that rev names in project's repository.
func (r *Repositories) Resolve(_ context.Context, project, rev string) (string, error) {
	repo, err := r.open(project)
	if err != nil {
		return "", err
	}
	h, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return "", fmt.Errorf("%s: %w", rev, baleen.ErrNotFound)
	}
	return h.String(), nil
}

// SetRef points name at commit, with git update-ref: the ref file is replaced whole (lock and rename), so
// a fetch that reads it meanwhile sees the old value or the new one, never an empty file.
func (r *Repositories) SetRef(ctx context.Context, project, name, commit string) error {
	if _, err := r.open(project); err != nil {
		return err
	}
	if !plumbing.IsHash(commit) || !strings.HasPrefix(name, "refs/") {
		return fmt.Errorf("set %s of %s to %q: %w", name, project, commit, baleen.ErrInvalid)
	}
	dir := filepath.Join(r.dir, project+".git")
	if _, err := (&gitRunner{}).run(ctx, dir, nil, "update-ref", "-m", "baleen", name, commit); err != nil {
		return fmt.Errorf("set %s of %s: %w", name, project, err)
	}
	return nil
}
