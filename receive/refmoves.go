package receive

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
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

// recordGroup records the ref updates of an atomic push of several refs, one of which at least is built,
// as one group before its builds start, and returns it (nil when p records none). The group claims the
// pending ref moves of the push's green builds: a server stopped before the push moved its refs moves them
// all at its next start, when every build passed and every ref still holds its old value, or none.
func (r *Rules) recordGroup(ctx context.Context, p gitd.Push, opts options) (*store.RefMoveGroup, error) {
	pm := r.refMoves()
	if !p.Atomic || len(p.Updates) < 2 || pm == nil {
		return nil, nil
	}
	g := &store.RefMoveGroup{Project: p.Project, ID: groupID()}
	built := false
	for _, u := range p.Updates {
		if u.Name == "refs/baleen" || strings.HasPrefix(u.Name, "refs/baleen/") {
			return nil, nil // refused: nothing of the push moves
		}
		m := store.GroupMove{Ref: u.Name, Old: u.Old, New: u.New,
			Build: strings.HasPrefix(u.Name, "refs/heads/") && u.New != zeroID && !opts.skip}
		built = built || m.Build
		g.Moves = append(g.Moves, m)
	}
	if !built {
		return nil, nil // no verdict to wait for: the refs move as soon as Receive returns
	}
	if err := pm.AddRefMoveGroup(ctx, *g); err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.groups[pushKey(p.Project, p.Updates[0])] = g.ID
	r.mu.Unlock()
	return g, nil
}

// unbuiltInGroup records that branch update u of group g was not built (its commit has nothing to build):
// it waits for no verdict. A record that fails leaves it waiting: recovery then moves none of the group.
func (r *Rules) unbuiltInGroup(ctx context.Context, g *store.RefMoveGroup, u gitd.RefUpdate) {
	if g == nil {
		return
	}
	for i := range g.Moves {
		if g.Moves[i].Ref == u.Name {
			g.Moves[i].Build = false
		}
	}
	if err := r.refMoves().AddRefMoveGroup(context.WithoutCancel(ctx), *g); err != nil {
		r.log.Error("record atomic push", "project", g.Project, "err", err)
	}
}

// doneGroup forgets the group id of project ("" for none) once its push has moved its refs or refused them.
func (r *Rules) doneGroup(ctx context.Context, project, id string) {
	if id == "" {
		return
	}
	if err := r.refMoves().DoneRefMoveGroup(ctx, project, id); err != nil {
		r.log.Error("forget atomic push", "project", project, "err", err)
	}
}

// groupID is a new random id for a ref move group.
func groupID() string {
	return fmt.Sprintf("%016x", rand.Uint64())
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
		members := claim(g, pending, claimed)
		if err := completeGroup(ctx, g, members, builds, repos, log); err != nil {
			errs = append(errs, err)
			continue // kept for the next start
		}
		for _, m := range members {
			if m != nil {
				errs = append(errs, moves.DoneRefMove(ctx, m.Project, m.Number))
				sched.Settle(ctx, m.Project, m.Number)
			}
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

// claim finds, for each move of g that waits for a build, the pending ref move its green build recorded
// (nil: none, the build did not pass or did not end), and marks it claimed. When several match, the latest
// build's is taken.
func claim(g store.RefMoveGroup, pending []store.RefMove, claimed []bool) []*store.RefMove {
	members := make([]*store.RefMove, len(g.Moves))
	for i, gm := range g.Moves {
		for j := range pending {
			m := &pending[j]
			if !gm.Build || m.Project != g.Project || m.Ref != gm.Ref || m.Old != gm.Old || m.New != gm.New {
				continue
			}
			claimed[j] = true
			if members[i] == nil || m.Number > members[i].Number {
				members[i] = m
			}
		}
	}
	return members
}

// completeGroup moves the refs of atomic push g in one transaction when every build the group waits for
// (members[i] for g.Moves[i]) is recorded passed and every branch still holds its old value; otherwise
// none moves, and each green build's record says why. An error keeps the group for the next start.
func completeGroup(ctx context.Context, g store.RefMoveGroup, members []*store.RefMove, builds baleen.BuildStore, repos RefSwapper, log *slog.Logger) error {
	log = log.With("project", g.Project, "group", g.ID)
	why, passed, err := groupVerdicts(ctx, g, members, builds)
	if err != nil {
		return err
	}
	if why == "" {
		var done bool
		if why, done, err = groupRefs(ctx, g, repos); err != nil || done {
			return err
		}
	}
	if why == "" {
		updates := make([]gitd.RefUpdate, len(g.Moves))
		for i, gm := range g.Moves {
			updates[i] = gitd.RefUpdate{Name: gm.Ref, Old: gm.Old, New: gm.New}
		}
		err := repos.SwapRefs(ctx, g.Project, updates...)
		switch {
		case err == nil:
			log.Warn("refs of an atomic push moved after a restart: the server stopped between the builds' verdicts and the push's ref moves", "refs", len(updates))
			return nil
		case errors.Is(err, baleen.ErrNotFound):
			log.Warn("ref moves of an atomic push dropped: the project has no repository")
			return nil
		case !errors.Is(err, baleen.ErrConflict):
			return fmt.Errorf("complete ref moves of an atomic push to %s: %w", g.Project, err)
		}
		why = "a ref of the push moved as the server restarted"
	}
	log.Warn("ref moves of an atomic push dropped", "why", why)
	for _, m := range passed {
		msg := fmt.Sprintf("passed; %s was not moved: %s, and an atomic push moves all its refs or none", branchName(m.Ref), why)
		if _, err := builds.UpdateBuild(ctx, m.Project, m.Number, baleen.BuildPatch{Message: &msg}); err != nil {
			log.Error("record dropped ref move", "build", m.Number, "err", err)
		}
	}
	return nil
}

// groupVerdicts checks that every build group g waits for is recorded passed. It returns why not ("" when
// all passed) and the moves of the builds that did pass.
func groupVerdicts(ctx context.Context, g store.RefMoveGroup, members []*store.RefMove, builds baleen.BuildStore) (why string, passed []store.RefMove, err error) {
	for i, gm := range g.Moves {
		if !gm.Build {
			continue
		}
		m := members[i]
		if m == nil {
			why = cmp.Or(why, fmt.Sprintf("the build of %s did not pass before the server stopped", branchName(gm.Ref)))
			continue
		}
		b, err := builds.Build(ctx, m.Project, m.Number)
		switch {
		case errors.Is(err, baleen.ErrNotFound):
			why = cmp.Or(why, fmt.Sprintf("build #%d of %s is gone", m.Number, branchName(gm.Ref)))
		case err != nil:
			return "", nil, fmt.Errorf("complete ref moves of an atomic push to %s: %w", g.Project, err)
		case b.Status != baleen.StatusPassed:
			why = cmp.Or(why, fmt.Sprintf("build #%d of %s is %s", m.Number, branchName(gm.Ref), b.Status))
		default:
			passed = append(passed, *m)
		}
	}
	return why, passed, nil
}

// groupRefs checks that every branch of group g still holds its old value. It returns why not, or done when
// every branch already holds its new value (the push moved them before the server stopped).
func groupRefs(ctx context.Context, g store.RefMoveGroup, repos Resolver) (why string, done bool, err error) {
	done = true
	for _, gm := range g.Moves {
		if !strings.HasPrefix(gm.Ref, "refs/heads/") {
			continue // tags and deletions: the transaction's compare-and-swap checks them
		}
		cur, err := repos.Resolve(ctx, g.Project, gm.Ref)
		switch {
		case errors.Is(err, baleen.ErrNotFound):
			cur = zeroID
		case err != nil:
			return "", false, fmt.Errorf("complete ref moves of an atomic push to %s: %w", g.Project, err)
		}
		done = done && strings.EqualFold(cur, gm.New)
		if !strings.EqualFold(cur, gm.Old) {
			why = cmp.Or(why, fmt.Sprintf("%s no longer held %s when the server restarted", branchName(gm.Ref), short(gm.Old)))
		}
	}
	if done {
		return "", true, nil
	}
	return why, false, nil
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
