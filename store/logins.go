package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/dgraph-io/badger/v4"
)

// storedLink is a LoginLink with its hash, which the link's JSON shape leaves out.
type storedLink struct {
	baleen.LoginLink
	Hash string `json:"hash"`
}

var linkPrefix = []byte("wl/")

func linkKey(hash string) []byte { return append(slices.Clone(linkPrefix), hash...) }

// CreateLoginLink records l under its hash with a badger TTL at its expiry, so that an unused link goes by
// itself; ErrExists if the hash is taken.
func (s *Store) CreateLoginLink(ctx context.Context, l baleen.LoginLink) error {
	if len(l.Hash) != 64 {
		return fmt.Errorf("create login link: want a SHA-256 hash: %w", baleen.ErrInvalid)
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		return insert(txn, linkKey(l.Hash), func() error {
			return setExpiring(txn, linkKey(l.Hash), storedLink{LoginLink: l, Hash: l.Hash}, l.Expires)
		})
	})
	if err != nil {
		return fmt.Errorf("create login link: %w", err)
	}
	return nil
}

// RedeemLoginLink reads and deletes the link with hash in one transaction: badger refuses the commit of a
// transaction that read a key another one changed since, so of two openings of one link the second finds
// it gone. ErrNotFound if there is none, or if it expired.
func (s *Store) RedeemLoginLink(ctx context.Context, hash string) (baleen.LoginLink, error) {
	var sl storedLink
	err := s.update(ctx, func(txn *badger.Txn) error {
		sl = storedLink{}
		if err := get(txn, linkKey(hash), &sl); err != nil {
			return notFound("login link", err)
		}
		return txn.Delete(linkKey(hash))
	})
	if err != nil {
		return baleen.LoginLink{}, fmt.Errorf("redeem login link: %w", err)
	}
	if !time.Now().Before(sl.Expires) {
		return baleen.LoginLink{}, fmt.Errorf("login link: expired: %w", baleen.ErrNotFound)
	}
	sl.LoginLink.Hash = sl.Hash
	return sl.LoginLink, nil
}
