package commands

import (
	"context"

	"github.com/baleen-ci/baleen"
)

// gc answers `gc [--dry-run]`: it deletes the builds the server's retention rules no longer keep, with
// their logs, test history, artifacts and images, printing one line per build; --dry-run only lists them.
func (h *Handler) gc(ctx context.Context, c *baleen.Call, fl *flags) int {
	if h.GC == nil {
		return off(c, "this server has no retention rules: set retention in its config")
	}
	if err := h.GC(ctx, fl.dryRun, c.Stdout); err != nil {
		return fail(c, err)
	}
	return ExitOK
}

// backup answers `backup`: a full backup of the server's records (projects, builds, logs, test history,
// releases, tokens), which badger's Load or `badger restore` reads back into an empty data directory.
// Repositories and artifacts are files under the data directory and are backed up as files.
func (h *Handler) backup(_ context.Context, c *baleen.Call, _ *flags) int {
	if h.Backup == nil {
		return off(c, "this server has no store to back up")
	}
	return done(c, h.Backup(c.Stdout))
}
