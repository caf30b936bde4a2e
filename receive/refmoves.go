package receive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/gitd"
	"github.com/baleen-ci/baleen/store"
)

// PendingRefMoves keeps the ref moves of green builds until their push has made them, and the ref updates
// of atomic pushes as groups that move together; *store.Store has it.
type PendingRefMoves interface {
	RefMoves(ctx context.Context) ([]store.RefMove, error)
	DoneRefMove(ctx context.Context, project string, number int) error
	AddRefMoveGroup(ctx context.Context, g store.RefMoveGroup) error
	DoneRefMoveGroup(ctx context.Context, project, id string) error
	RefMoveGroups(ctx context.Context) ([]store.RefMoveGroup, error)
}

// RefSwapper moves refs by compare-and-swap on their old values; *gitd.Repositories has it.
type RefSwapper interface {
	Resolver
	SwapRef(ctx context.Context, project, name, old, commit string) error
	// SwapRefs moves all of updates in one transaction, or none.
	SwapRefs(ctx context.Context, project string, updates ...gitd.RefUpdate) error
}

// refMoves is where the Rules keep pending ref moves; nil when the build store keeps none.
func (r *Rules) refMoves() PendingRefMoves {
	pm, _ := r.builds.(PendingRefMoves)
	return pm
}

// doneRefMove forgets the pending ref move of build n once its push moved the ref or refused it.
func (r *Rules) doneRefMove(ctx context.Context, project string, n int) {
	pm := r.refMoves()
	if pm == nil {
		return
	}
	if err := pm.DoneRefMove(ctx, project, n); err != nil {
		r.log.Error("forget ref move", "project", project, "build", n, "err", err)
	}
}

// CompleteRefMoves makes the ref moves a server stopped before making: a push's build recorded passed whose
// branch did not move yet moves now, by the same compare-and-swap as the push's, and its project's images
// are then pruned (sched.Settle). A branch that no longer holds the push's old value is left alone, and the
// build's record says so; a move whose build is not recorded passed is dropped. The refs of an atomic push
// move together (completeGroup), or none does. Call it at start-up, after sched.Recover and before the git
// server accepts pushes.
func CompleteRefMoves(ctx context.Context, moves PendingRefMoves, builds baleen.BuildStore, repos RefSwapper, sched Scheduler, log *slog.Logger) error {
	pending, err := moves.RefMoves(ctx)
	if err != nil {
		return err
	}
	groups, err := moves.RefMoveGroups(ctx)
	if err != nil {
		return err
	}
	var errs []error
	claimed := make([]bool, len(pending))
	for _, g := range groups {
		members, all := claim(g, pending, claimed)
		if err := completeGroup(ctx, g, members, builds, repos, log); err != nil {
			errs = append(errs, err)
			continue // kept for the next start
		}
		for _, m := range all {
			errs = append(errs, moves.DoneRefMove(ctx, m.Project, m.Number))
			sched.Settle(ctx, m.Project, m.Number)
		}
		errs = append(errs, moves.DoneRefMoveGroup(ctx, g.Project, g.ID))
	}
	for i, m := range pending {
		if claimed[i] {
			continue
		}
		if err := completeRefMove(ctx, m, builds, repos, log); err != nil {
			errs = append(errs, err)
			continue // kept for the next start
		}
		if err := moves.DoneRefMove(ctx, m.Project, m.Number); err != nil {
			errs = append(errs, err)
		}
		sched.Settle(ctx, m.Project, m.Number)
	}
	return errors.Join(errs...)
}

// branchName is a ref's name without refs/heads/.
func branchName(ref string) string { return strings.TrimPrefix(ref, "refs/heads/") }

// completeRefMove makes or drops one pending ref move; an error keeps it for the next start.
func completeRefMove(ctx context.Context, m store.RefMove, builds baleen.BuildStore, repos RefSwapper, log *slog.Logger) error {
	log = log.With("project", m.Project, "build", m.Number, "commit", m.New, "ref", m.Ref)
	b, err := builds.Build(ctx, m.Project, m.Number)
	switch {
	case errors.Is(err, baleen.ErrNotFound):
		log.Warn("ref move dropped: its build is gone")
		return nil
	case err != nil:
		return fmt.Errorf("complete ref move of %s #%d: %w", m.Project, m.Number, err)
	case b.Status != baleen.StatusPassed:
		log.Warn("ref move dropped: its build did not pass", "status", string(b.Status))
		return nil
	}
	err = repos.SwapRef(ctx, m.Project, m.Ref, m.Old, m.New)
	switch {
	case err == nil:
		log.Warn("ref moved after a restart: the server stopped between the build's verdict and its push's ref move", "old", m.Old)
		return nil
	case errors.Is(err, baleen.ErrNotFound):
		log.Warn("ref move dropped: the project has no repository")
		return nil
	case !errors.Is(err, baleen.ErrConflict):
		return fmt.Errorf("complete ref move of %s #%d: %w", m.Project, m.Number, err)
	}
	cur, rerr := repos.Resolve(ctx, m.Project, m.Ref)
	if rerr == nil && strings.EqualFold(cur, m.New) {
		return nil // moved before the server stopped
	}
	branch := strings.TrimPrefix(m.Ref, "refs/heads/")
	msg := fmt.Sprintf("passed; %s was not moved: it no longer held %s when the server restarted", branch, short(m.Old))
	if m.Old == zeroID {
		msg = fmt.Sprintf("passed; %s was not created: another push had created it when the server restarted", branch)
	}
	log.Warn("ref move dropped: the branch moved meanwhile", "old", m.Old, "now", cur)
	if _, err := builds.UpdateBuild(ctx, m.Project, m.Number, baleen.BuildPatch{Message: &msg}); err != nil {
		log.Error("record dropped ref move", "err", err)
	}
	return nil
}

// short is the abbreviated form of a commit id.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
