package gitd

import (
	"context"
	"os"
	"strings"
	"time"
)

// DefaultMaintenanceInterval is how often every repository gets `git gc --auto`.
const DefaultMaintenanceInterval = time.Hour

// maintain runs `git gc --auto` on every repository each interval until ctx ends, so that packs and loose
// objects do not pile up (the server also runs it after each push that moved a ref). git decides whether
// there is anything to do (more than gc.autoPackLimit packs or gc.auto loose objects); when there is, it
// repacks with bitmaps. (`git maintenance run --auto` of git 2.39 leaves such a repository alone.)
func (s *Server) maintain(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.maintainAll(ctx)
		}
	}
}

// maintainAll runs one round over the repositories, one at a time.
func (s *Server) maintainAll(ctx context.Context) {
	entries, err := os.ReadDir(s.reposDir)
	if err != nil {
		s.log.Warn("maintenance: list repositories", "err", err)
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasSuffix(e.Name(), ".git") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		s.gcAuto(ctx, strings.TrimSuffix(e.Name(), ".git"))
	}
}

// gcAuto runs `git gc --auto` on project's repository.
func (s *Server) gcAuto(ctx context.Context, project string) {
	// In the foreground: a detached gc that warns writes gc.log, and git then skips every gc --auto for a day.
	_, err := s.git.run(ctx, s.repoPath(project), nil, "-c", "repack.writeBitmaps=true", "-c", "core.hooksPath=/dev/null", "-c", "gc.autoDetach=false",
		"gc", "--auto", "--quiet")
	if err != nil && ctx.Err() == nil {
		s.log.Warn("git gc", "project", project, "err", err)
	}
}
