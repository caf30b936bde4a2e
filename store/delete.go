package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/baleen-ci/baleen"
	"github.com/dgraph-io/badger/v4"
)

// deleteBatch is how many log chunks one transaction deletes: a 64 MiB log has 2,048 of them, more than
// one badger transaction may hold.
const deleteBatch = 500

// DeleteBuild forgets build number of project: its log first, then its test run and its record, so that
// a deletion cut short leaves a record to delete again rather than a log nothing names. It refuses a build
// that is queued or running (ErrConflict) and returns ErrNotFound if the build does not exist. The build
// numbers are not reused: the project's counter stays. Its artifacts, images and ref are the caller's.
func (s *Store) DeleteBuild(ctx context.Context, project string, number int) error {
	b, err := s.Build(ctx, project, number)
	if err != nil {
		return fmt.Errorf("delete build: %w", err)
	}
	name := buildName(project, number)
	if !b.Status.Final() {
		return fmt.Errorf("delete build %s: it is %s: %w", name, b.Status, baleen.ErrConflict)
	}
	s.writersMu.Lock()
	_, open := s.writers[name]
	s.writersMu.Unlock()
	if open {
		return fmt.Errorf("delete build %s: its log is being written: %w", name, baleen.ErrConflict)
	}
	if err := s.deleteLog(ctx, project, number); err != nil {
		return fmt.Errorf("delete build %s: %w", name, err)
	}
	err = s.update(ctx, func(txn *badger.Txn) error {
		if err := txn.Delete(testRunKey(project, number)); err != nil {
			return err
		}
		return txn.Delete(buildKey(project, number))
	})
	if err != nil {
		return fmt.Errorf("delete build %s: %w", name, err)
	}
	return nil
}

// deleteLog deletes the chunks of a build's log, deleteBatch per transaction.
func (s *Store) deleteLog(ctx context.Context, project string, number int) error {
	prefix := logPrefix(project, number)
	for {
		var keys [][]byte
		err := s.view(ctx, func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
			defer it.Close()
			for it.Rewind(); it.Valid() && len(keys) < deleteBatch; it.Next() {
				keys = append(keys, slices.Clone(it.Item().Key()))
			}
			return nil
		})
		if err != nil || len(keys) == 0 {
			return err
		}
		err = s.update(ctx, func(txn *badger.Txn) error {
			for _, k := range keys {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("delete log: %w", err)
		}
	}
}
