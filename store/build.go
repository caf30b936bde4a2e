package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/dgraph-io/badger/v4"
)

// CreateBuild records a new build of b.Project numbered one above the project's last build and returns it.
// The number is assigned in the same transaction that writes the build, so concurrent calls get distinct
// consecutive numbers. Status is set to queued; Created is set to now if it is zero. It returns ErrNotFound
// if the project does not exist.
func (s *Store) CreateBuild(ctx context.Context, b baleen.Build) (baleen.Build, error) {
	if err := baleen.ValidateProjectName(b.Project); err != nil {
		return baleen.Build{}, fmt.Errorf("create build: %w", err)
	}
	b.Status = baleen.StatusQueued
	if b.Created.IsZero() {
		b.Created = time.Now().UTC()
	}
	n, err := s.createNumbered(ctx, b.Project, "build", lastNumberKey(b.Project),
		func(n int) []byte { return buildKey(b.Project, n) }, func(n int) any { b.Number = n; return b })
	if err != nil {
		return baleen.Build{}, fmt.Errorf("create build: %w", err)
	}
	b.Number = n
	return b, nil
}

// createNumbered stores a new record of project under the next number of the counter at counterKey, in
// one transaction: the record made by record(n) at key(n). Creations are serialised, which spares the
// optimistic transactions a storm of conflicts; it returns ErrNotFound if the project does not exist.
func (s *Store) createNumbered(ctx context.Context, project, what string, counterKey []byte, key func(int) []byte, record func(int) any) (int, error) {
	s.createMu.Lock()
	defer s.createMu.Unlock()
	var n int
	err := s.update(ctx, func(txn *badger.Txn) error {
		if _, err := txn.Get(projectKey(project)); err != nil {
			return notFound("project "+project, err)
		}
		last, err := lastCounter(txn, counterKey, what+" number of "+project)
		if err != nil {
			return err
		}
		if last >= maxNumber {
			return fmt.Errorf("project %s has used up its %s numbers", project, what)
		}
		n = last + 1
		if err := set(txn, key(n), record(n)); err != nil {
			return err
		}
		return txn.Set(counterKey, []byte(strconv.Itoa(n)))
	})
	return n, err
}

// lastNumber reads the number of a project's newest build, 0 if it has none.
func lastNumber(txn *badger.Txn, project string) (int, error) {
	return lastCounter(txn, lastNumberKey(project), "last build number of "+project)
}

// lastCounter reads the counter at key, 0 if it was never set.
func lastCounter(txn *badger.Txn, key []byte, what string) (int, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var n int
	err = item.Value(func(v []byte) error {
		n, err = strconv.Atoi(string(v))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return n, nil
}

// Build returns build number of project; ErrNotFound if it does not exist.
func (s *Store) Build(ctx context.Context, project string, number int) (baleen.Build, error) {
	if err := checkBuild(project, number); err != nil {
		return baleen.Build{}, err
	}
	var b baleen.Build
	err := s.view(ctx, func(txn *badger.Txn) error { return get(txn, buildKey(project, number), &b) })
	if err != nil {
		return baleen.Build{}, notFound("build "+buildName(project, number), err)
	}
	return b, nil
}

// LatestBuild returns the newest build of project; ErrNotFound if the project does not exist or has no
// builds.
func (s *Store) LatestBuild(ctx context.Context, project string) (baleen.Build, error) {
	if err := baleen.ValidateProjectName(project); err != nil {
		return baleen.Build{}, err
	}
	var b baleen.Build
	err := s.view(ctx, func(txn *badger.Txn) error {
		if _, err := txn.Get(projectKey(project)); err != nil {
			return notFound("project "+project, err)
		}
		n, err := lastNumber(txn, project)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("project %s has no builds: %w", project, baleen.ErrNotFound)
		}
		if err := get(txn, buildKey(project, n), &b); err != nil {
			return notFound("build "+buildName(project, n), err)
		}
		return nil
	})
	if err != nil {
		return baleen.Build{}, fmt.Errorf("latest build: %w", err)
	}
	return b, nil
}

// Builds lists builds newest first: those of f.Project by number, or, when f.Project is empty, those of all
// projects by creation time. It keeps only builds in f.Statuses when that is set and returns at most
// f.Limit when that is above 0. It returns ErrNotFound if f.Project names no project and ErrInvalid for a
// negative limit.
func (s *Store) Builds(ctx context.Context, f baleen.BuildFilter) ([]baleen.Build, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("list builds: limit %d: %w", f.Limit, baleen.ErrInvalid)
	}
	if f.Project != "" {
		if err := baleen.ValidateProjectName(f.Project); err != nil {
			return nil, fmt.Errorf("list builds: %w", err)
		}
	}
	keep := func(b *baleen.Build) bool { return len(f.Statuses) == 0 || slices.Contains(f.Statuses, b.Status) }
	full := func(bs []baleen.Build) bool { return f.Limit > 0 && len(bs) >= f.Limit }

	var bs []baleen.Build
	err := s.view(ctx, func(txn *badger.Txn) error {
		prefix := buildPrefix(f.Project)
		opts := badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 100}
		if len(f.Statuses) == 0 {
			opts.PrefetchSize = prefetchFor(f.Limit)
		}
		seek := prefix
		if f.Project != "" {
			// One project's keys sort by number, so walking them backwards yields newest first and
			// the walk can stop at the limit.
			if _, err := txn.Get(projectKey(f.Project)); err != nil {
				return notFound("project "+f.Project, err)
			}
			opts.Reverse = true
			seek = append(slices.Clone(prefix), 0xff)
		}
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(seek); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var b baleen.Build
			if err := it.Item().Value(func(v []byte) error { return decode(v, &b) }); err != nil {
				return fmt.Errorf("%s: %w", it.Item().Key(), err)
			}
			if !keep(&b) {
				continue
			}
			bs = append(bs, b)
			if f.Project != "" && full(bs) {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list builds: %w", err)
	}
	if f.Project == "" {
		slices.SortStableFunc(bs, newestFirst)
		if full(bs) {
			bs = bs[:f.Limit]
		}
	}
	return bs, nil
}

// newestFirst orders builds of any projects by creation time, newest first; ties by project name, then
// by number, newest first.
func newestFirst(a, b baleen.Build) int {
	if c := b.Created.Compare(a.Created); c != 0 {
		return c
	}
	if c := strings.Compare(a.Project, b.Project); c != 0 {
		return c
	}
	return cmp.Compare(b.Number, a.Number)
}

// UpdateBuild applies p to build number of project and returns the result: every field set in p (a
// non-nil pointer, slice or map) replaces the build's field; an empty non-nil slice or map clears it.
// It returns ErrNotFound if the build does not exist.
func (s *Store) UpdateBuild(ctx context.Context, project string, number int, p baleen.BuildPatch) (baleen.Build, error) {
	if err := checkBuild(project, number); err != nil {
		return baleen.Build{}, fmt.Errorf("update build: %w", err)
	}
	name := buildName(project, number)
	key := buildKey(project, number)
	var b baleen.Build
	err := s.update(ctx, func(txn *badger.Txn) error {
		b = baleen.Build{}
		if err := get(txn, key, &b); err != nil {
			return notFound("build "+name, err)
		}
		apply(&b, p)
		return set(txn, key, b)
	})
	if err != nil {
		return baleen.Build{}, fmt.Errorf("update build %s: %w", name, err)
	}
	return b, nil
}

// apply copies the fields set in p into b.
func apply(b *baleen.Build, p baleen.BuildPatch) {
	if p.Status != nil {
		b.Status = *p.Status
	}
	if p.Started != nil {
		b.Started = *p.Started
	}
	if p.Finished != nil {
		b.Finished = *p.Finished
	}
	if p.Stages != nil {
		b.Stages = slices.Clone(p.Stages)
	}
	if p.FailedStage != nil {
		b.FailedStage = *p.FailedStage
	}
	if p.Message != nil {
		b.Message = *p.Message
	}
	if p.Report != nil {
		b.Report = p.Report
	}
	if p.Artifacts != nil {
		b.Artifacts = slices.Clone(p.Artifacts)
	}
	if p.Images != nil {
		b.Images = maps.Clone(p.Images)
	}
	if p.Dependencies != nil {
		b.Dependencies = slices.Clone(p.Dependencies)
	}
	if p.Pushed != nil {
		b.Pushed = slices.Clone(p.Pushed)
	}
}
