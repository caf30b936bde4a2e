package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/dgraph-io/badger/v4"
)

var _ baleen.ReleaseStore = (*Store)(nil)

// CreateRelease records a new release of r.Project numbered one above the project's last release and
// returns it. The number is assigned in the same transaction that writes the release. Status is set to
// queued unless r has one; Started is set to now if it is zero. It returns ErrNotFound if the project does
// not exist.
func (s *Store) CreateRelease(ctx context.Context, r baleen.Release) (baleen.Release, error) {
	if err := baleen.ValidateProjectName(r.Project); err != nil {
		return baleen.Release{}, fmt.Errorf("create release: %w", err)
	}
	if r.Status == "" {
		r.Status = baleen.StatusQueued
	}
	if r.Started.IsZero() {
		r.Started = time.Now().UTC()
	}
	n, err := s.createNumbered(ctx, r.Project, "release", lastReleaseKey(r.Project),
		func(n int) []byte { return releaseKey(r.Project, n) }, func(n int) any { r.Number = n; return r })
	if err != nil {
		return baleen.Release{}, fmt.Errorf("create release: %w", err)
	}
	r.Number = n
	return r, nil
}

// releaseName names a release in messages: "api release 7".
func releaseName(project string, number int) string {
	return fmt.Sprintf("%s release %d", project, number)
}

// checkRelease checks a project name and release number given by a caller.
func checkRelease(project string, number int) error {
	if err := baleen.ValidateProjectName(project); err != nil {
		return err
	}
	if number < 1 || number > maxNumber {
		return fmt.Errorf("%s: %w", releaseName(project, number), baleen.ErrNotFound)
	}
	return nil
}

// Release returns release number of project; ErrNotFound if it does not exist.
func (s *Store) Release(ctx context.Context, project string, number int) (baleen.Release, error) {
	if err := checkRelease(project, number); err != nil {
		return baleen.Release{}, err
	}
	var r baleen.Release
	err := s.view(ctx, func(txn *badger.Txn) error { return get(txn, releaseKey(project, number), &r) })
	if err != nil {
		return baleen.Release{}, notFound(releaseName(project, number), err)
	}
	return r, nil
}

// Releases lists the releases of project, newest first, at most limit of them when limit is above 0. It
// returns ErrNotFound if the project does not exist and ErrInvalid for a negative limit.
func (s *Store) Releases(ctx context.Context, project string, limit int) ([]baleen.Release, error) {
	if limit < 0 {
		return nil, fmt.Errorf("list releases: limit %d: %w", limit, baleen.ErrInvalid)
	}
	if err := baleen.ValidateProjectName(project); err != nil {
		return nil, fmt.Errorf("list releases: %w", err)
	}
	var rs []baleen.Release
	err := s.view(ctx, func(txn *badger.Txn) error {
		if _, err := txn.Get(projectKey(project)); err != nil {
			return notFound("project "+project, err)
		}
		prefix := releasePrefix(project)
		if !anyWithPrefix(txn, prefix) {
			return nil
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: prefetchFor(limit), Reverse: true})
		defer it.Close()
		for it.Seek(append(slices.Clone(prefix), 0xff)); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var r baleen.Release
			if err := it.Item().Value(func(v []byte) error { return decode(v, &r) }); err != nil {
				return fmt.Errorf("%s: %w", it.Item().Key(), err)
			}
			rs = append(rs, r)
			if limit > 0 && len(rs) >= limit {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list releases: %w", err)
	}
	return rs, nil
}

// UpdateRelease applies p to release number of project and returns the result: every field set in p (a
// non-nil pointer or slice) replaces the release's field; an empty non-nil slice clears it. It returns
// ErrNotFound if the release does not exist.
func (s *Store) UpdateRelease(ctx context.Context, project string, number int, p baleen.ReleasePatch) (baleen.Release, error) {
	if err := checkRelease(project, number); err != nil {
		return baleen.Release{}, fmt.Errorf("update release: %w", err)
	}
	name := releaseName(project, number)
	key := releaseKey(project, number)
	var r baleen.Release
	err := s.update(ctx, func(txn *badger.Txn) error {
		r = baleen.Release{}
		if err := get(txn, key, &r); err != nil {
			return notFound(name, err)
		}
		if p.Status != nil {
			r.Status = *p.Status
		}
		if p.Message != nil {
			r.Message = *p.Message
		}
		if p.Hosts != nil {
			r.Hosts = slices.Clone(p.Hosts)
		}
		if p.Finished != nil {
			r.Finished = *p.Finished
		}
		return set(txn, key, r)
	})
	if err != nil {
		return baleen.Release{}, fmt.Errorf("update %s: %w", name, err)
	}
	return r, nil
}

// anyWithPrefix reports whether a key starts with prefix. Walking backwards into a prefix that holds no key,
// badger steps back through the keys before it (every version) to fill its prefetch; forwards it stops at
// once. A project without releases is most projects.
func anyWithPrefix(txn *badger.Txn, prefix []byte) bool {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	it.Seek(prefix)
	return it.Valid()
}

// prefetchFor is how many records to prefetch for a listing of at most limit (0: all): no more than it keeps.
func prefetchFor(limit int) int {
	if limit > 0 && limit < 100 {
		return limit
	}
	return 100
}
