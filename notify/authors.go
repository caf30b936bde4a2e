package notify

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"path/filepath"
	"slices"

	"github.com/baleen-ci/baleen"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// maxAuthorCommits bounds how many commits of one push are read for their authors.
const maxAuthorCommits = 500

// GitAuthors reads commit authors from the projects' bare repositories, DIR/<project>.git, with go-git.
type GitAuthors struct {
	Dir string
}

var _ Authors = GitAuthors{}

// Authors returns the authors' addresses of the commits reachable from commit and not from since.
func (g GitAuthors) Authors(ctx context.Context, project, commit, since string) ([]string, error) {
	if err := baleen.ValidateProjectName(project); err != nil {
		return nil, err
	}
	repo, err := git.PlainOpen(filepath.Join(g.Dir, project+".git"))
	if err != nil {
		return nil, fmt.Errorf("open repository of %s: %w", project, err)
	}
	stop := map[plumbing.Hash]bool{}
	if since != "" && since != commit {
		if c, err := repo.CommitObject(plumbing.NewHash(since)); err == nil {
			// Everything reachable from since is old; a bounded walk, since history can be long.
			n := 0
			_ = object.NewCommitPreorderIter(c, nil, nil).ForEach(func(c *object.Commit) error {
				stop[c.Hash] = true
				if n++; n > 10*maxAuthorCommits {
					return errStopWalk
				}
				return nil
			})
		}
	}
	head, err := repo.CommitObject(plumbing.NewHash(commit))
	if err != nil {
		return nil, fmt.Errorf("read commit %s of %s: %w", commit, project, err)
	}
	var authors []string
	n := 0
	err = object.NewCommitPreorderIter(head, stop, nil).ForEach(func(c *object.Commit) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if a, err := mail.ParseAddress(c.Author.Email); err == nil && !slices.Contains(authors, a.Address) {
			authors = append(authors, a.Address)
		}
		if n++; n >= maxAuthorCommits || since == "" {
			return errStopWalk
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopWalk) {
		return authors, fmt.Errorf("walk commits of %s: %w", project, err)
	}
	return authors, nil
}

var errStopWalk = errors.New("stop walk")
