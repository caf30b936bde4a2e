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

// An atomic push of several refs records its ref updates as one group (store.RefMoveGroup) before its
// builds start, and forgets it once the push has moved its refs or refused them. At start-up the group
// claims the pending ref moves of its green builds, and CompleteRefMoves moves all its refs or none.

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

// claim finds, for each move of g that waits for a build, the pending ref move its green build recorded
// (nil: none, the build did not pass or did not end), and marks it claimed. When several match, the latest
// build's is the member; all the group claims are returned too, so that every one is forgotten with the
// group and none moves its branch alone at a later start.
func claim(g store.RefMoveGroup, pending []store.RefMove, claimed []bool) (members []*store.RefMove, all []store.RefMove) {
	members = make([]*store.RefMove, len(g.Moves))
	for i, gm := range g.Moves {
		for j := range pending {
			m := &pending[j]
			if !gm.Build || m.Project != g.Project || m.Ref != gm.Ref || m.Old != gm.Old || m.New != gm.New {
				continue
			}
			claimed[j] = true
			all = append(all, *m)
			if members[i] == nil || m.Number > members[i].Number {
				members[i] = m
			}
		}
	}
	return members, all
}

// completeGroup moves the refs of atomic push g in one transaction when every build the group waits for
// (members[i] for g.Moves[i]) is recorded passed and every branch still holds its old value; otherwise
// none moves, and each green build's record says why. An error keeps the group for the next start.
func completeGroup(ctx context.Context, g store.RefMoveGroup, members []*store.RefMove, builds baleen.BuildStore, repos RefSwapper, log *slog.Logger) error {
	log = log.With("project", g.Project, "group", g.ID)
	// The refs first: a push that moved them all before the server stopped is done, whatever pending moves
	// it had already forgotten.
	refsWhy, done, err := groupRefs(ctx, g, repos)
	if err != nil || done {
		return err
	}
	why, passed, err := groupVerdicts(ctx, g, members, builds)
	if err != nil {
		return err
	}
	why = cmp.Or(why, refsWhy)
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
			continue // tags: the transaction's compare-and-swap checks them
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
