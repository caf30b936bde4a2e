package receive

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/gitd"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/store"
)

// PendingRebuilds keeps the rebuilds of dependents that a green push owes, from before its ref moves until
// each rebuild is queued, so that a server stopped in between queues them at its next start
// (QueueRebuilds); *store.Store has it.
type PendingRebuilds interface {
	AddRebuilds(ctx context.Context, rs []store.Rebuild) error
	DoneRebuild(ctx context.Context, r store.Rebuild) error
	Rebuilds(ctx context.Context) ([]store.Rebuild, error)
}

// Resolver reads where a ref points; *gitd.Repositories has it.
type Resolver interface {
	Resolve(ctx context.Context, project, rev string) (string, error)
}

// rebuildStore is where the Rules keep the rebuilds pushes owe; nil when the build store keeps none.
func (r *Rules) rebuildStore() PendingRebuilds {
	pr, _ := r.builds.(PendingRebuilds)
	return pr
}

// recordRebuilds lists the rebuilds a green build of u would owe and records them in the store. A record
// that fails is logged: the rebuilds then live in memory alone, as the push goes on.
func (r *Rules) recordRebuilds(ctx context.Context, project string, u gitd.RefUpdate) []store.Rebuild {
	rebuilds := r.dependents(ctx, project, u)
	if pr := r.rebuildStore(); pr != nil && len(rebuilds) > 0 {
		if err := pr.AddRebuilds(ctx, rebuilds); err != nil {
			r.log.Error("record rebuilds of dependents", "project", project, "commit", u.New, "err", err)
		}
	}
	return rebuilds
}

// forgetRebuilds forgets rebuilds that are no longer owed: their push's build did not pass, or its ref did
// not move.
func (r *Rules) forgetRebuilds(ctx context.Context, rebuilds []store.Rebuild) {
	for _, rb := range rebuilds {
		forgetRebuild(ctx, r.rebuildStore(), rb, r.log)
	}
}

// forgetRebuild forgets rb in pr (nil: nothing is kept), logging what fails.
func forgetRebuild(ctx context.Context, pr PendingRebuilds, rb store.Rebuild, log *slog.Logger) {
	if pr == nil {
		return
	}
	if err := pr.DoneRebuild(ctx, rb); err != nil {
		log.Error("forget rebuild of dependent", "project", rb.Dependent, "err", err)
	}
}

// startRebuild queues, in the background, the rebuild of rb's dependent at the head of its branch, and
// forgets rb in pr once the rebuild is recorded queued. A rebuild the server cannot queue because it is
// shutting down stays recorded for its next start; one that cannot be queued for another reason is
// forgotten and logged.
func startRebuild(ctx context.Context, rb store.Rebuild, repos Resolver, pr PendingRebuilds, sched Scheduler, log *slog.Logger) {
	log = log.With("project", rb.Dependent, "after", rb.Project, "ref", rb.Ref)
	commit, err := repos.Resolve(ctx, rb.Dependent, "refs/heads/"+rb.Branch)
	if err != nil {
		log.Error("rebuild dependent", "err", err)
		forgetRebuild(ctx, pr, rb, log)
		return
	}
	go func() {
		b, err := sched.Run(ctx, pipeline.Request{Project: rb.Dependent, Branch: rb.Branch, Commit: commit,
			Pusher: "rebuild after " + rb.Project + " " + strings.TrimPrefix(rb.Ref, "refs/heads/"),
			Queued: func(baleen.Build) { forgetRebuild(ctx, pr, rb, log) }})
		if err != nil {
			if !errors.Is(err, baleen.ErrUnavailable) {
				forgetRebuild(ctx, pr, rb, log)
			}
			log.Error("rebuild dependent", "err", err)
			return
		}
		log.Info("dependent rebuilt", "build", b.Number, "status", string(b.Status))
	}()
}

// QueueRebuilds queues the rebuilds of dependents that pushes owed when the server stopped: those whose
// pushed ref holds the push's commit (it moved before the stop, or CompleteRefMoves moved it); the others
// are forgotten, as their push's ref never moved. Call it at start-up after CompleteRefMoves; the rebuilds
// run in the background.
func QueueRebuilds(ctx context.Context, pending PendingRebuilds, repos Resolver, sched Scheduler, log *slog.Logger) error {
	rebuilds, err := pending.Rebuilds(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, rb := range rebuilds {
		cur, err := repos.Resolve(ctx, rb.Project, rb.Ref)
		if err != nil && !errors.Is(err, baleen.ErrNotFound) {
			errs = append(errs, err) // kept for the next start
			continue
		}
		if !strings.EqualFold(cur, rb.Commit) {
			log.Info("rebuild of dependent dropped: its push's ref did not move", "project", rb.Dependent, "after", rb.Project, "ref", rb.Ref)
			forgetRebuild(ctx, pending, rb, log)
			continue
		}
		log.Warn("rebuild of dependent queued after a restart", "project", rb.Dependent, "after", rb.Project, "ref", rb.Ref)
		startRebuild(ctx, rb, repos, pending, sched, log)
	}
	return errors.Join(errs...)
}
