package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/pipeline/retention"
	"github.com/baleen-ci/baleen/receive"
	"github.com/baleen-ci/baleen/store"
)

// gcInterval is how often the server runs retention.
const gcInterval = time.Hour

// validateRetention checks the retention rules, the log limit and the deploy hosts' image count.
func (c Config) validateRetention() error {
	if c.LogLimitMB < 0 {
		return fmt.Errorf("log_limit_mb: want 0 (the default, 64) or more, got %d", c.LogLimitMB)
	}
	if c.MinFreeMB != nil && (*c.MinFreeMB < 0 || *c.MinFreeMB > maxMinFreeMB) {
		return fmt.Errorf("min_free_mb: want 0 (no check) to %d MiB, got %d", int64(maxMinFreeMB), *c.MinFreeMB)
	}
	if c.DeployKeepImages < 0 {
		return fmt.Errorf("deploy_keep_images: want 0 (the default, 3) or more, got %d", c.DeployKeepImages)
	}
	return c.Retention.Validate()
}

// logLimit is the most bytes of a build's log the server keeps.
func (c Config) logLimit() int64 {
	if c.LogLimitMB == 0 {
		return store.DefaultLogLimit
	}
	return c.LogLimitMB << 20
}

// collector is the server's retention, or nil when its rules keep every build.
func (c Config) collector(st *store.Store, sched *pipeline.Scheduler, images retention.ImageStore, instance string, logger *slog.Logger) *retention.Collector {
	if c.Retention.Off() && len(c.Retention.Projects) == 0 {
		return nil
	}
	return &retention.Collector{Projects: st, Builds: st, Deleter: st, Releases: st, Images: images,
		Holds: sched.Holds(), Instance: instance, ArtifactsDir: filepath.Join(c.Data, "artifacts"),
		Rules: c.Retention, Logger: logger}
}

// runRetention runs col's GC every gcInterval until ctx ends, logging what it could not remove.
func runRetention(ctx context.Context, col *retention.Collector, logger *slog.Logger) {
	t := time.NewTicker(gcInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := col.GC(ctx, false, io.Discard); err != nil {
				logger.Error("retention", "err", err)
			}
		}
	}
}

// maxMinFreeMB is the largest min_free_mb, 1 EiB: more has no meaning and would overflow in bytes.
const maxMinFreeMB = 1 << 40

// minFree is the free space, in bytes, the data directory must keep for a push to be taken (0: no check).
func (c Config) minFree() uint64 {
	if c.MinFreeMB == nil {
		return store.DefaultMinFree
	}
	return uint64(*c.MinFreeMB) << 20
}

// withSpaceCheck makes r refuse pushes while the data directory has less than min_free_mb free.
func (c Config) withSpaceCheck(r *receive.Rules) *receive.Rules {
	minFree := c.minFree()
	r.CheckSpace = func() error { return store.CheckSpace(c.Data, minFree) }
	return r
}
