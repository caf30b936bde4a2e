package main

import (
	"log/slog"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/docker/pool"
)

// enginePool is the pool builds are placed on: the engines of the config, or the one engine DOCKER_HOST
// names, called local, with the configured concurrency as its slots. finished says which builds' leftovers
// an engine that comes back may have removed.
func enginePool(cfg Config, logger *slog.Logger, finished func(baleen.BuildID) bool) (*pool.Pool, error) {
	opts := pool.Options{Logger: logger.With("component", "engines"), Finished: finished}
	if len(cfg.Engines) == 0 {
		return pool.Single(cfg.Concurrency, opts)
	}
	return pool.New(cfg.Engines, opts)
}
