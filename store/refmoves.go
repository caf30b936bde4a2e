package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/dgraph-io/badger/v4"

	"github.com/baleen-ci/baleen"
)

// Pending ref moves are kept under "rm/<project>/<number>": the branch a push's green build is to move, by
// compare-and-swap, once its verdict is recorded. One is added just before the build is recorded passed and
// removed once the push has moved the ref or refused it, so that a server that stops in between finds it at
// its next start and completes the move.

var refMovePrefix = []byte("rm/")

func refMoveKey(project string, number int) []byte {
	return fmt.Appendf(nil, "rm/%s/%010d", project, number)
}

// RefMove is a ref update a push's green build has yet to make: Ref moves from Old to New, or not at all.
type RefMove struct {
	Project string `json:"project"`
	Number  int    `json:"number"`
	Ref     string `json:"ref"`
	Old     string `json:"old"`
	New     string `json:"new"`
}

// AddRefMove records that build number of project is to move ref from old to new. Adding it again
// replaces it.
func (s *Store) AddRefMove(ctx context.Context, project string, number int, ref, old, new string) error {
	if err := checkBuild(project, number); err != nil {
		return fmt.Errorf("add ref move: %w", err)
	}
	m := RefMove{Project: project, Number: number, Ref: ref, Old: old, New: new}
	if err := s.update(ctx, func(txn *badger.Txn) error { return set(txn, refMoveKey(project, number), m) }); err != nil {
		return fmt.Errorf("add ref move of %s: %w", buildName(project, number), err)
	}
	return nil
}

// DoneRefMove forgets the ref move of build number of project, once the ref has moved or been refused.
// Forgetting one that is not recorded is no error.
func (s *Store) DoneRefMove(ctx context.Context, project string, number int) error {
	if err := s.update(ctx, func(txn *badger.Txn) error { return txn.Delete(refMoveKey(project, number)) }); err != nil {
		return fmt.Errorf("forget ref move of %s: %w", buildName(project, number), err)
	}
	return nil
}

// RefMoves returns the ref moves not done yet, by project and build number.
func (s *Store) RefMoves(ctx context.Context) ([]RefMove, error) {
	var out []RefMove
	err := s.view(ctx, func(txn *badger.Txn) (err error) {
		out, err = all[RefMove](ctx, txn, refMovePrefix)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list ref moves: %w", err)
	}
	return out, nil
}

// The ref updates of an atomic push of several refs are kept as one group under "rg/<project>/<id>",
// recorded before the push's builds start and removed once the push has moved its refs or refused them. A
// group claims the pending ref moves of its builds: recovery moves all its refs in one transaction, when
// every build it waits for is recorded passed, or none.

var refMoveGroupPrefix = []byte("rg/")

func refMoveGroupKey(project, id string) []byte {
	return fmt.Appendf(nil, "rg/%s/%s", project, id)
}

// RefMoveGroup is the ref updates of one atomic push, which move together or not at all.
type RefMoveGroup struct {
	Project string `json:"project"`
	// ID tells apart the groups of one project: letters and digits.
	ID    string      `json:"id"`
	Moves []GroupMove `json:"moves"`
}

// GroupMove is one ref update of an atomic push: Ref moves from Old to New (git's zero id: created or
// deleted).
type GroupMove struct {
	Ref string `json:"ref"`
	Old string `json:"old"`
	New string `json:"new"`
	// Build says the update waits for a green build of New (a pushed branch); false for a tag, a deletion
	// or a branch stored without a build.
	Build bool `json:"build,omitempty"`
}

// AddRefMoveGroup records the ref updates of an atomic push. Adding a group again replaces it.
func (s *Store) AddRefMoveGroup(ctx context.Context, g RefMoveGroup) error {
	if err := checkGroup(g.Project, g.ID); err != nil {
		return fmt.Errorf("add ref move group: %w", err)
	}
	if err := s.update(ctx, func(txn *badger.Txn) error { return set(txn, refMoveGroupKey(g.Project, g.ID), g) }); err != nil {
		return fmt.Errorf("add ref move group %s of %s: %w", g.ID, g.Project, err)
	}
	return nil
}

// DoneRefMoveGroup forgets a group once its push has moved its refs or refused them. Forgetting one that is
// not recorded is no error.
func (s *Store) DoneRefMoveGroup(ctx context.Context, project, id string) error {
	if err := checkGroup(project, id); err != nil {
		return fmt.Errorf("forget ref move group: %w", err)
	}
	if err := s.update(ctx, func(txn *badger.Txn) error { return txn.Delete(refMoveGroupKey(project, id)) }); err != nil {
		return fmt.Errorf("forget ref move group %s of %s: %w", id, project, err)
	}
	return nil
}

// RefMoveGroups returns the groups not done yet, by project and id.
func (s *Store) RefMoveGroups(ctx context.Context) ([]RefMoveGroup, error) {
	var out []RefMoveGroup
	err := s.view(ctx, func(txn *badger.Txn) (err error) {
		out, err = all[RefMoveGroup](ctx, txn, refMoveGroupPrefix)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list ref move groups: %w", err)
	}
	return out, nil
}

// checkGroup refuses a group whose project or id could not name it alone.
func checkGroup(project, id string) error {
	if err := baleen.ValidateProjectName(project); err != nil {
		return err
	}
	if id == "" || strings.IndexFunc(id, func(r rune) bool { return !('a' <= r && r <= 'z' || '0' <= r && r <= '9') }) >= 0 {
		return fmt.Errorf("group id %q: %w", id, baleen.ErrInvalid)
	}
	return nil
}
