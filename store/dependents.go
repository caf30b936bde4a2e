package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/dgraph-io/badger/v4"

	"github.com/baleen-ci/baleen"
)

// The rebuilds a push owes the projects that depend on a branch are kept under
// "dr/<project>/<ref>\x00<commit>\x00<dependent>\x00<branch>": recorded before the push's ref moves and
// removed once each rebuild is queued (or the push's ref did not move), so that a server stopped in between
// queues them at its next start. Ref names and project names hold no NUL byte.

var rebuildPrefix = []byte("dr/")

func rebuildKey(r Rebuild) []byte {
	return fmt.Appendf(nil, "dr/%s/%s\x00%s\x00%s\x00%s", r.Project, r.Ref, r.Commit, r.Dependent, r.Branch)
}

// Rebuild is the rebuild of a dependent project that a green push owes once the push's ref has moved.
type Rebuild struct {
	// Project, Ref and Commit are the pushed project, its branch (refs/heads/...) and the commit the push
	// moves it to.
	Project string `json:"project"`
	Ref     string `json:"ref"`
	Commit  string `json:"commit"`
	// Dependent and Branch are the project to rebuild and its branch.
	Dependent string `json:"dependent"`
	Branch    string `json:"branch"`
}

// AddRebuilds records rebuilds, in one transaction. Adding one again replaces it.
func (s *Store) AddRebuilds(ctx context.Context, rs []Rebuild) error {
	for _, r := range rs {
		if err := checkRebuild(r); err != nil {
			return fmt.Errorf("add rebuild: %w", err)
		}
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		for _, r := range rs {
			if err := set(txn, rebuildKey(r), r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add rebuilds: %w", err)
	}
	return nil
}

// DoneRebuild forgets a rebuild once it is queued, or once it is no longer owed. Forgetting one that is
// not recorded is no error.
func (s *Store) DoneRebuild(ctx context.Context, r Rebuild) error {
	if err := checkRebuild(r); err != nil {
		return fmt.Errorf("forget rebuild: %w", err)
	}
	if err := s.update(ctx, func(txn *badger.Txn) error { return txn.Delete(rebuildKey(r)) }); err != nil {
		return fmt.Errorf("forget rebuild of %s after %s: %w", r.Dependent, r.Project, err)
	}
	return nil
}

// Rebuilds returns the rebuilds not queued yet, by pushed project, ref and commit.
func (s *Store) Rebuilds(ctx context.Context) ([]Rebuild, error) {
	var out []Rebuild
	err := s.view(ctx, func(txn *badger.Txn) (err error) {
		out, err = all[Rebuild](ctx, txn, rebuildPrefix)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list rebuilds: %w", err)
	}
	return out, nil
}

// checkRebuild refuses a rebuild whose fields could not make its key alone.
func checkRebuild(r Rebuild) error {
	for _, p := range []string{r.Project, r.Dependent} {
		if err := baleen.ValidateProjectName(p); err != nil {
			return err
		}
	}
	for _, f := range []string{r.Ref, r.Commit, r.Branch} {
		if f == "" || strings.ContainsRune(f, 0) {
			return fmt.Errorf("rebuild of %s after %s %s: %w", r.Dependent, r.Project, r.Ref, baleen.ErrInvalid)
		}
	}
	return nil
}
