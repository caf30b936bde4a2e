package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"time"

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

// insert runs put when key is absent, and returns baleen.ErrExists when it is there.
func insert(txn *badger.Txn, key []byte, put func() error) error {
	_, err := txn.Get(key)
	switch {
	case err == nil:
		return baleen.ErrExists
	case !errors.Is(err, badger.ErrKeyNotFound):
		return err
	}
	return put()
}

// CreateToken records t under its hash; ErrExists if the hash is taken.
func (s *Store) CreateToken(ctx context.Context, t baleen.APIToken) error {
	if len(t.Hash) != 64 || t.ID == "" {
		return fmt.Errorf("create token: want a SHA-256 hash and an id: %w", baleen.ErrInvalid)
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		return insert(txn, tokenKey(t.Hash), func() error {
			return set(txn, tokenKey(t.Hash), storedToken{APIToken: t, Hash: t.Hash})
		})
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

var _ baleen.SessionStore = (*Store)(nil)

// storedSession is a WebSession with its hash, which the session's JSON shape leaves out.
type storedSession struct {
	baleen.WebSession
	Hash string `json:"hash"`
}

var sessionPrefix = []byte("ws/")

func sessionKey(hash string) []byte { return append(slices.Clone(sessionPrefix), hash...) }

// putSession writes s with a badger TTL at its expiry, so that an abandoned session goes by itself.
func putSession(txn *badger.Txn, s baleen.WebSession) error {
	if err := setExpiring(txn, sessionKey(s.Hash), storedSession{WebSession: s, Hash: s.Hash}, s.Expires); err != nil {
		return fmt.Errorf("session: %w", err)
	}
	return nil
}

// CreateSession records s under its hash; ErrExists if the hash is taken.
func (s *Store) CreateSession(ctx context.Context, ws baleen.WebSession) error {
	if len(ws.Hash) != 64 {
		return fmt.Errorf("create session: want a SHA-256 hash: %w", baleen.ErrInvalid)
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		return insert(txn, sessionKey(ws.Hash), func() error { return putSession(txn, ws) })
	})
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionByHash returns the session whose secret hashes to hash; ErrNotFound if none or if it expired.
func (s *Store) SessionByHash(ctx context.Context, hash string) (baleen.WebSession, error) {
	var ss storedSession
	err := s.view(ctx, func(txn *badger.Txn) error { return get(txn, sessionKey(hash), &ss) })
	if err != nil {
		return baleen.WebSession{}, notFound("session", err)
	}
	if !time.Now().Before(ss.Expires) {
		return baleen.WebSession{}, fmt.Errorf("session: expired: %w", baleen.ErrNotFound)
	}
	ss.WebSession.Hash = ss.Hash
	return ss.WebSession, nil
}

// ExtendSession moves the end of the session with hash to expires; ErrNotFound if none.
func (s *Store) ExtendSession(ctx context.Context, hash string, expires time.Time) error {
	err := s.update(ctx, func(txn *badger.Txn) error {
		var ss storedSession
		if err := get(txn, sessionKey(hash), &ss); err != nil {
			return notFound("session", err)
		}
		ss.WebSession.Hash, ss.Expires = ss.Hash, expires
		return putSession(txn, ss.WebSession)
	})
	if err != nil {
		return fmt.Errorf("extend session: %w", err)
	}
	return nil
}

// DeleteSession ends the session with hash; ending one that does not exist is no error.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	err := s.update(ctx, func(txn *badger.Txn) error { return txn.Delete(sessionKey(hash)) })
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteSessionsOf ends every session of the key with fingerprint and returns how many it ended.
func (s *Store) DeleteSessionsOf(ctx context.Context, fingerprint string) (int, error) {
	if fingerprint == "" {
		return 0, fmt.Errorf("end sessions: no key fingerprint: %w", baleen.ErrInvalid)
	}
	var n int
	err := s.update(ctx, func(txn *badger.Txn) error {
		n = 0
		var keys [][]byte
		it := txn.NewIterator(badger.IteratorOptions{Prefix: sessionPrefix, PrefetchValues: true})
		for it.Rewind(); it.Valid(); it.Next() {
			var ss storedSession
			if err := it.Item().Value(func(v []byte) error { return decode(v, &ss) }); err != nil {
				it.Close()
				return err
			}
			if ss.Identity.Fingerprint == fingerprint {
				keys = append(keys, it.Item().KeyCopy(nil))
			}
		}
		it.Close()
		for _, k := range keys {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		n = len(keys)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("end sessions of %s: %w", fingerprint, err)
	}
	return n, nil
}
