package store

import (
	"context"
	"fmt"

	"github.com/baleen-ci/baleen"
	"github.com/dgraph-io/badger/v4"
)

// Teardowns that are not confirmed yet are kept under "td/<build id>", their value the name of the engine
// the build ran on (empty for the server's only engine). A build's id is added before its containers are
// made and removed once the engine has confirmed that nothing labelled with it is left, so that a teardown a
// fault or a restart cut short is retried until it is done.

var teardownPrefix = []byte("td/")

func teardownKey(id baleen.BuildID) []byte {
	return append(append([]byte(nil), teardownPrefix...), id...)
}

// AddTeardown records that the Docker objects of build id, on engine, are to be removed. Adding it again
// replaces the engine.
func (s *Store) AddTeardown(ctx context.Context, id baleen.BuildID, engine string) error {
	if _, err := baleen.ParseBuildID(string(id)); err != nil {
		return fmt.Errorf("add teardown: %w", err)
	}
	if err := s.update(ctx, func(txn *badger.Txn) error { return txn.Set(teardownKey(id), []byte(engine)) }); err != nil {
		return fmt.Errorf("add teardown %s: %w", id, err)
	}
	return nil
}

// DoneTeardown forgets the teardown of build id, once nothing labelled with it is left. Forgetting one that
// is not recorded is no error.
func (s *Store) DoneTeardown(ctx context.Context, id baleen.BuildID) error {
	if err := s.update(ctx, func(txn *badger.Txn) error { return txn.Delete(teardownKey(id)) }); err != nil {
		return fmt.Errorf("forget teardown %s: %w", id, err)
	}
	return nil
}

// PendingTeardowns returns the teardowns not confirmed yet: the engine of each build id.
func (s *Store) PendingTeardowns(ctx context.Context) (map[baleen.BuildID]string, error) {
	pending := map[baleen.BuildID]string{}
	err := s.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: teardownPrefix, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			pending[baleen.BuildID(it.Item().Key()[len(teardownPrefix):])] = string(v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list pending teardowns: %w", err)
	}
	return pending, nil
}
