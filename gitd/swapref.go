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
	if _, err := r.open(project); err != nil {
		return err
	}
	if !plumbing.IsHash(commit) || !plumbing.IsHash(old) || !strings.HasPrefix(name, "refs/heads/") {
		return fmt.Errorf("move %s of %s from %q to %q: %w", name, project, old, commit, baleen.ErrInvalid)
	}
	cmd := fmt.Sprintf("update %s %s %s\n", name, commit, old)
	if old == zeroID {
		cmd = fmt.Sprintf("create %s %s\n", name, commit)
	}
	dir := filepath.Join(r.dir, project+".git")
	if _, err := (&gitRunner{}).run(ctx, dir, []byte(cmd), "update-ref", "-m", "baleen", "--stdin"); err != nil {
		msg := err.Error()
		if strings.Contains(msg, "but expected") || strings.Contains(msg, "already exists") || strings.Contains(msg, "unable to resolve") {
			return fmt.Errorf("%s of %s no longer holds %s: %w", name, project, short(old), baleen.ErrConflict)
		}
		return fmt.Errorf("move %s of %s: %w", name, project, err)
	}
	// A repository whose first push this was names no existing branch in HEAD yet; as after a push, HEAD
	// then names this one.
	if _, err := (&gitRunner{}).run(ctx, dir, nil, "rev-parse", "-q", "--verify", "HEAD"); err != nil {
		if _, err := (&gitRunner{}).run(ctx, dir, nil, "symbolic-ref", "HEAD", name); err != nil {
			return fmt.Errorf("point HEAD of %s at %s: %w", project, name, err)
		}
	}
	return nil
}
