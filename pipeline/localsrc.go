package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/baleen-ci/baleen"
)

// localSources are the server's repositories as a dependency's src reaches them: a src that names a path
// on the server (an absolute path, or a file:// URL) is fetched only from under one of roots, and every way
// such a fetch can fail (refused, no such path, not a repository, unreadable) gets the same words, so that
// a pusher learns nothing of the server's files from a src.
type localSources struct {
	DependencyRepos
	roots []string
}

// Fetch fetches src as DependencyRepos does, once a src on the server is found under the roots; it
// fetches the very path it checked, its links resolved.
func (l localSources) Fetch(ctx context.Context, forProjects []string, project, src, branch string) (string, string, error) {
	p, local := serverPath(src)
	if !local {
		return l.DependencyRepos.Fetch(ctx, forProjects, project, src, branch)
	}
	refused := refusedSource(src)
	real, ok := l.allowed(p)
	if !ok {
		return "", "", refused
	}
	b, c, err := l.DependencyRepos.Fetch(ctx, forProjects, project, real, branch)
	if err != nil {
		return "", "", refused
	}
	return b, c, nil
}

// refusedSource is the one answer to every src on the server that cannot be fetched, whatever the reason.
func refusedSource(src string) error {
	return fmt.Errorf("src %s: no repository that this server may fetch is there; a src on the server must lie under a directory that the server's config lists under local_sources: %w", src, baleen.ErrNotFound)
}

// admits reports whether src may be fetched as far as the roots are concerned: a src that is not a path on
// the server always is; one that is must lie under a root (and exist).
func (l localSources) admits(src string) bool {
	p, local := serverPath(src)
	if !local {
		return true
	}
	_, ok := l.allowed(p)
	return ok
}

// allowed resolves p's links (and its "..", after them, as the system does) and reports whether the
// result lies under one of the roots (theirs resolved too). A path that does not exist is not allowed.
func (l localSources) allowed(p string) (string, bool) {
	if p == "" {
		return "", false
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", false
	}
	for _, root := range l.roots {
		r, err := filepath.EvalSymlinks(root)
		if err != nil || !filepath.IsAbs(r) {
			continue
		}
		if rel, err := filepath.Rel(r, real); err == nil && filepath.IsLocal(rel) {
			return real, true
		}
	}
	return "", false
}

// serverPath is the path on the server that src names, and whether it names one: an absolute path, or the
// path of a file:// URL. A file:// URL with a host or with %-escapes names "", which no root allows: git
// and this check could read it differently. A relative path is refused before a fetch.
func serverPath(src string) (string, bool) {
	scheme, rest, ok := strings.Cut(src, "://")
	switch {
	case ok && !strings.EqualFold(scheme, "file"):
		return "", false
	case ok:
		host, path, _ := strings.Cut(rest, "/")
		if (host != "" && host != "localhost") || strings.Contains(path, "%") {
			return "", true
		}
		return "/" + path, true
	case filepath.IsAbs(src):
		return src, true
	}
	return "", false
}
