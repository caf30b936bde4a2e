package store

import (
	"context"
	"fmt"

	"github.com/dgraph-io/badger/v4"
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
	v, err := encode(RefMove{Project: project, Number: number, Ref: ref, Old: old, New: new})
	if err != nil {
		return err
	}
	if err := s.update(ctx, func(txn *badger.Txn) error { return txn.Set(refMoveKey(project, number), v) }); err != nil {
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
	var moves []RefMove
	err := s.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: refMovePrefix, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var m RefMove
			if err := it.Item().Value(func(v []byte) error { return decode(v, &m) }); err != nil {
				return fmt.Errorf("ref move %s: %w", it.Item().Key(), err)
			}
			moves = append(moves, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list ref moves: %w", err)
	}
	return moves, nil
}
