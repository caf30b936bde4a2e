package enginetest

import (
	"context"
	"fmt"
	"io/fs"
	"sync"
	"testing/fstest"

	"github.com/baleen-ci/baleen"
)

// Repos is in-memory repositories: commits are trees given by the test, branches point at them. It has
// what the scheduler needs of gitd.Repositories but fetches nothing. Safe for concurrent use.
type Repos struct {
	// OnResolve, when set, is called at each Resolve before it answers: a test holds a build there.
	OnResolve func()

	mu      sync.Mutex
	commits map[string]fstest.MapFS // by project and commit
	refs    map[string]string       // by project and ref name
}

// NewRepos returns empty repositories.
func NewRepos() *Repos {
	return &Repos{commits: map[string]fstest.MapFS{}, refs: map[string]string{}}
}

// Commit stores files as commit of project and points refs/heads/branch at it.
func (r *Repos) Commit(project, branch, commit string, files map[string]string) {
	tree := fstest.MapFS{}
	for name, body := range files {
		tree[name] = &fstest.MapFile{Data: []byte(body), Mode: 0o644}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.commits[project+"\x00"+commit] = tree
	r.refs[project+"\x00refs/heads/"+branch] = commit
}

// Tree returns the files of commit.
func (r *Repos) Tree(_ context.Context, project, commit string) (fs.FS, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.commits[project+"\x00"+commit]
	if !ok {
		return nil, fmt.Errorf("commit %s of %s: %w", commit, project, baleen.ErrNotFound)
	}
	return t, nil
}

// Resolve returns the commit a ref names.
func (r *Repos) Resolve(_ context.Context, project, rev string) (string, error) {
	if r.OnResolve != nil {
		r.OnResolve()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.refs[project+"\x00"+rev]
	if !ok {
		return "", fmt.Errorf("%s of %s: %w", rev, project, baleen.ErrNotFound)
	}
	return c, nil
}

// SetRef points a ref at commit.
func (r *Repos) SetRef(_ context.Context, project, name, commit string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refs[project+"\x00"+name] = commit
	return nil
}

// Fetch fails: nothing outside is reachable.
func (r *Repos) Fetch(_ context.Context, _ []string, project, src, _ string) (string, string, error) {
	return "", "", fmt.Errorf("fetch %s into %s: no network in tests: %w", src, project, baleen.ErrUnavailable)
}

// MayFetch refuses nothing: Fetch fails anyway.
func (r *Repos) MayFetch([]string, string) error { return nil }

// Contains reports that rev is in the history of commit only when it is commit.
func (r *Repos) Contains(_ context.Context, _, commit, rev string) (string, bool, error) {
	return commit, rev == commit, nil
}
