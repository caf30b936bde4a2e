package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/baleen-ci/baleen"
	"github.com/dgraph-io/badger/v4"
)

var _ baleen.TokenStore = (*Store)(nil)

// storedToken is an APIToken with its hash, which the API shape leaves out.
type storedToken struct {
	baleen.APIToken
	Hash string `json:"hash"`
}

func tokenKey(hash string) []byte { return []byte("t/" + hash) }

// CreateToken records t under its hash; ErrExists if the hash is taken.
func (s *Store) CreateToken(ctx context.Context, t baleen.APIToken) error {
	if len(t.Hash) != 64 || t.ID == "" {
		return fmt.Errorf("create token: want a SHA-256 hash and an id: %w", baleen.ErrInvalid)
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		_, err := txn.Get(tokenKey(t.Hash))
		switch {
		case err == nil:
			return baleen.ErrExists
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		return set(txn, tokenKey(t.Hash), storedToken{APIToken: t, Hash: t.Hash})
	})
	if err != nil {
		return fmt.Errorf("create token %s: %w", t.ID, err)
	}
	return nil
}

// TokenByHash returns the token whose secret hashes to hash; ErrNotFound if none.
func (s *Store) TokenByHash(ctx context.Context, hash string) (baleen.APIToken, error) {
	var st storedToken
	err := s.view(ctx, func(txn *badger.Txn) error { return get(txn, tokenKey(hash), &st) })
	if err != nil {
		return baleen.APIToken{}, notFound("token", err)
	}
	st.APIToken.Hash = st.Hash
	return st.APIToken, nil
}

// Tokens lists every token, in hash order.
func (s *Store) Tokens(ctx context.Context) ([]baleen.APIToken, error) {
	var out []baleen.APIToken
	err := s.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("t/"), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var st storedToken
			if err := it.Item().Value(func(v []byte) error { return decode(v, &st) }); err != nil {
				return err
			}
			st.APIToken.Hash = st.Hash
			out = append(out, st.APIToken)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// DeleteToken removes the token whose id is given; ErrNotFound if none.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	ts, err := s.Tokens(ctx)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if t.ID == id {
			return s.update(ctx, func(txn *badger.Txn) error { return txn.Delete(tokenKey(t.Hash)) })
		}
	}
	return fmt.Errorf("token %s: %w", id, baleen.ErrNotFound)
}

// Size is the database's size on disk in bytes (LSM tree and value log), for metrics.
func (s *Store) Size() int64 {
	if err := s.enter(); err != nil {
		return 0
	}
	defer s.mu.RUnlock()
	// badger's own Size is refreshed once a minute; the files tell the truth now.
	var n int64
	_ = filepath.WalkDir(s.db.Opts().Dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// LogSize is how many bytes of a build's log have been written, without reading them: the web shows the
// tail of a long log.
func (s *Store) LogSize(ctx context.Context, project string, number int) (int64, error) {
	rc, err := s.Log(ctx, project, number, 0)
	if err != nil {
		return 0, err
	}
	r := rc.(*logReader)
	n := r.end + int64(len(r.tail))
	return n, r.Close()
}
