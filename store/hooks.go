package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/dgraph-io/badger/v4"
)

// Webhook deliveries seen, to refuse a replay across restarts, are kept under
// "hs/<project>/<hex SHA-256 of the delivery ID>" with no value and a badger TTL: badger stops returning
// the key once it expires and drops it at compaction, so nothing has to prune them.

func hookSeenKey(project, id string) []byte {
	h := sha256.Sum256([]byte(id))
	return []byte("hs/" + project + "/" + hex.EncodeToString(h[:]))
}

// SeenHookDelivery records that a forge's webhook delivery id came for project, to be remembered for ttl,
// and reports whether it was recorded already (and not expired): a replay. Two calls at once with the same
// id answer false to one of them only.
func (s *Store) SeenHookDelivery(ctx context.Context, project, id string, ttl time.Duration) (bool, error) {
	if err := baleen.ValidateProjectName(project); err != nil {
		return false, err
	}
	if id == "" || ttl <= 0 {
		return false, fmt.Errorf("record webhook delivery: want an id and a lifetime: %w", baleen.ErrInvalid)
	}
	key := hookSeenKey(project, id)
	var seen bool
	err := s.update(ctx, func(txn *badger.Txn) error {
		seen = false
		_, err := txn.Get(key)
		switch {
		case err == nil:
			seen = true
			return nil
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		return txn.SetEntry(badger.NewEntry(key, nil).WithTTL(ttl))
	})
	if err != nil {
		return false, fmt.Errorf("record webhook delivery of %s: %w", project, err)
	}
	return seen, nil
}
