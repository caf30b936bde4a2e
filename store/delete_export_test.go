package store

import "github.com/dgraph-io/badger/v4"

// CountLogChunks counts the chunks kept of a build's log, whether or not its record exists.
func (s *Store) CountLogChunks(project string, number int) int {
	n := 0
	s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: logPrefix(project, number)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	return n
}
