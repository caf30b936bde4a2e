package gitd

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/baleen-ci/baleen"
	"github.com/go-git/go-git/v5/plumbing"
)

// SwapRef moves name in project's repository from old to commit by compare-and-swap (git update-ref), as a
// push moves its refs; old is git's zero id when the ref is to be created. A ref that no longer holds old is
// left alone and the error wraps baleen.ErrConflict; a project without a repository, baleen.ErrNotFound.
func (r *Repositories) SwapRef(ctx context.Context, project, name, old, commit string) error {
	if !strings.HasPrefix(name, "refs/heads/") || commit == zeroID {
		return fmt.Errorf("move %s of %s from %q to %q: %w", name, project, old, commit, baleen.ErrInvalid)
	}
	return r.SwapRefs(ctx, project, RefUpdate{Name: name, Old: old, New: commit})
}

// SwapRefs applies updates to project's repository in one git transaction (git update-ref --stdin), each
// by compare-and-swap on its old value, as an atomic push moves its refs: all of them move, or none does.
// An Old of git's zero id creates the ref, a New of it deletes the ref. A ref that no longer holds its old
// value moves nothing and the error wraps baleen.ErrConflict; a project without a repository,
// baleen.ErrNotFound.
func (r *Repositories) SwapRefs(ctx context.Context, project string, updates ...RefUpdate) error {
	if _, err := r.open(project); err != nil {
		return err
	}
	for _, u := range updates {
		if !plumbing.IsHash(u.New) || !plumbing.IsHash(u.Old) || !strings.HasPrefix(u.Name, "refs/") || u.Old == u.New {
			return fmt.Errorf("move %s of %s from %q to %q: %w", u.Name, project, u.Old, u.New, baleen.ErrInvalid)
		}
	}
	if len(updates) == 0 {
		return nil
	}
	dir := filepath.Join(r.dir, project+".git")
	if _, err := (&gitRunner{}).run(ctx, dir, updateRefInput(updates), "update-ref", "-m", "baleen", "--stdin"); err != nil {
		if lostRace(err) {
			if len(updates) == 1 {
				return fmt.Errorf("%s of %s no longer holds %s: %w", updates[0].Name, project, short(updates[0].Old), baleen.ErrConflict)
			}
			return fmt.Errorf("a ref of %s no longer holds its old value: %w", project, baleen.ErrConflict)
		}
		return fmt.Errorf("move refs of %s: %w", project, err)
	}
	// A repository whose first push this was names no existing branch in HEAD yet; as after a push, HEAD
	// then names the first branch created.
	if _, err := (&gitRunner{}).run(ctx, dir, nil, "rev-parse", "-q", "--verify", "HEAD"); err != nil {
		for _, u := range updates {
			if !strings.HasPrefix(u.Name, "refs/heads/") || u.New == zeroID {
				continue
			}
			if _, err := (&gitRunner{}).run(ctx, dir, nil, "symbolic-ref", "HEAD", u.Name); err != nil {
				return fmt.Errorf("point HEAD of %s at %s: %w", project, u.Name, err)
			}
			break
		}
	}
	return nil
}

// updateRefInput is the input of git update-ref --stdin that applies updates, each by compare-and-swap on
// its old value.
func updateRefInput(updates []RefUpdate) []byte {
	var b strings.Builder
	for _, u := range updates {
		switch {
		case u.New == zeroID:
			fmt.Fprintf(&b, "delete %s %s\n", u.Name, u.Old)
		case u.Old == zeroID:
			fmt.Fprintf(&b, "create %s %s\n", u.Name, u.New)
		default:
			fmt.Fprintf(&b, "update %s %s %s\n", u.Name, u.New, u.Old)
		}
	}
	return []byte(b.String())
}

// lostRace says whether git update-ref failed because a ref no longer held the old value it was given.
func lostRace(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "but expected") || strings.Contains(msg, "already exists") || strings.Contains(msg, "unable to resolve")
}
