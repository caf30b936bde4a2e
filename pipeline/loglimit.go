package pipeline

import (
	"context"
	"io"

	"github.com/baleen-ci/baleen"
)

// limitedLogs is a build store whose logs can be capped (store.Store).
type limitedLogs interface {
	LogWriterLimit(ctx context.Context, project string, number int, limit int64) (io.WriteCloser, error)
}

// logWriter opens b's log, capped at LogLimit when the store can cap it.
func (s *Scheduler) logWriter(ctx context.Context, b baleen.Build) (io.WriteCloser, error) {
	if l, ok := s.cfg.Builds.(limitedLogs); ok && s.cfg.LogLimit > 0 {
		return l.LogWriterLimit(ctx, b.Project, b.Number, s.cfg.LogLimit)
	}
	return s.cfg.Builds.LogWriter(ctx, b.Project, b.Number)
}
