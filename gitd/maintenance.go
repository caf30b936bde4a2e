package gitd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultMaintenanceInterval is how often every repository gets `git maintenance run --auto`.
const DefaultMaintenanceInterval = time.Hour

// maintain runs `git maintenance run --auto` on every repository each interval until ctx ends, so that
// packs and loose objects do not pile up in a repository that is fetched from but seldom pushed to
// (receive-pack runs the same after each push). git decides whether there is anything to do; when there
// is, it repacks with bitmaps.
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
		project := strings.TrimSuffix(e.Name(), ".git")
		repo := filepath.Join(s.reposDir, e.Name())
		if _, err := s.git.run(ctx, repo, nil, "-c", "repack.writeBitmaps=true", "-c", "core.hooksPath=/dev/null",
			"maintenance", "run", "--auto", "--quiet"); err != nil && ctx.Err() == nil {
			s.log.Warn("maintenance", "project", project, "err", err)
		}
	}
}
