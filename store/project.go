package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/dgraph-io/badger/v4"
)

// CreateProject records p, setting Created to now if it is zero. It returns ErrExists if a project of that
// name exists and ErrInvalid if the name is not a valid project name.
func (s *Store) CreateProject(ctx context.Context, p baleen.Project) error {
	if err := baleen.ValidateProjectName(p.Name); err != nil {
		return fmt.Errorf("create project: %w", err)
	}
	if p.Created.IsZero() {
		p.Created = time.Now().UTC()
	}
	key := projectKey(p.Name)
	err := s.update(ctx, func(txn *badger.Txn) error {
		_, err := txn.Get(key)
		switch {
		case err == nil:
			return baleen.ErrExists
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		return set(txn, key, p)
	})
	if err != nil {
		return fmt.Errorf("create project %s: %w", p.Name, err)
	}
	return nil
}

// Project returns the project called name; ErrNotFound if there is none.
func (s *Store) Project(ctx context.Context, name string) (baleen.Project, error) {
	if err := baleen.ValidateProjectName(name); err != nil {
		return baleen.Project{}, err
	}
	var p baleen.Project
	err := s.view(ctx, func(txn *badger.Txn) error { return get(txn, projectKey(name), &p) })
	if err != nil {
		return baleen.Project{}, notFound("project "+name, err)
	}
	return p, nil
}

// Projects lists all projects by name.
func (s *Store) Projects(ctx context.Context) ([]baleen.Project, error) {
	var ps []baleen.Project
	err := s.view(ctx, func(txn *badger.Txn) (err error) {
		ps, err = all[baleen.Project](ctx, txn, projectPrefix())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	return ps, nil
}
