package receive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/gitd"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/store"
)

// Scheduler runs builds; *pipeline.Scheduler implements it. Settle is called once for each build run with
// Request.HoldImages, after its push moved its branch (or failed to): only then are images pruned.
type Scheduler interface {
	Run(ctx context.Context, req pipeline.Request) (baleen.Build, error)
	Settle(ctx context.Context, project string, number int)
}

// Rules runs the builds of a push, and after a green push the builds of the projects that depend on what it
// pushed. It implements gitd.Receiver and gitd.PostReceiver; its methods are safe for concurrent use.
type Rules struct {
	sched    Scheduler
	projects baleen.ProjectStore
	builds   baleen.BuildStore
	repos    baleen.Repositories
	log      *slog.Logger
	mu       sync.Mutex
	// pending holds, by project, branch and commit of a green build, the dependents to rebuild once
	// the push has moved the branch (also kept in the store: see rebuilds.go).
	pending map[string][]store.Rebuild
	// groups holds, by the first ref update of an atomic push, the id of its recorded ref move group.
	groups map[string]string
	// unsettled holds, by project, branch and commit, the builds of pushes whose refs have not moved yet:
	// their images are held until PostReceive settles them.
	unsettled map[string]int
	// CheckSpace, when set, is asked before a push builds; its error refuses the whole push
	// (store.CheckSpace on the data directory).
	CheckSpace func() error
	// BeforeRefMove, when set, is called at the end of Receive: after the push's verdicts are recorded and
	// before the server moves its refs. It injects faults (a test stops the server there); nil in service.
	BeforeRefMove func()
}

var (
	_ gitd.Receiver     = (*Rules)(nil)
	_ gitd.PostReceiver = (*Rules)(nil)
)

// New returns the Rules that build with sched and read and record projects, builds and repositories in the
// stores given.
func New(sched Scheduler, projects baleen.ProjectStore, builds baleen.BuildStore, repos baleen.Repositories, log *slog.Logger) *Rules {
	return &Rules{sched: sched, projects: projects, builds: builds, repos: repos, log: log, pending: map[string][]store.Rebuild{},
		unsettled: map[string]int{}, groups: map[string]string{}}
}

const zeroID = "0000000000000000000000000000000000000000"

// Receive builds each pushed branch; a branch whose build fails is rejected.
func (r *Rules) Receive(ctx context.Context, p gitd.Push, out io.Writer) []error {
	errs := make([]error, len(p.Updates))
	if r.spaceRefused(errs, out) {
		return errs
	}
	opts := parseOptions(p.Options, out)
	if err := r.projects.CreateProject(ctx, baleen.Project{Name: p.Project, Created: time.Now().UTC()}); err == nil {
		fmt.Fprintf(out, "created project %s\n", p.Project)
	} else if !errors.Is(err, baleen.ErrExists) {
		for i := range errs {
			errs[i] = fmt.Errorf("record project: %w", err)
		}
		return errs
	}
	group, err := r.recordGroup(ctx, p, opts)
	if err != nil {
		r.log.Error("record atomic push", "project", p.Project, "err", err)
		for i := range errs {
			errs[i] = errors.New("cannot record the atomic push on the server; push again shortly")
		}
		return errs
	}
	for i, u := range p.Updates {
		switch {
		case u.Name == "refs/baleen" || strings.HasPrefix(u.Name, "refs/baleen/"):
			errs[i] = errors.New("refs/baleen/ is reserved for Baleen's own records")
		case u.New == zeroID:
			fmt.Fprintf(out, "%s deleted\n", u.Name)
		case !strings.HasPrefix(u.Name, "refs/heads/"):
			fmt.Fprintf(out, "%s stored; only branches are built\n", u.Name)
		case opts.skip:
			fmt.Fprintf(out, "%s stored without a build (ci.skip)\n", u.Name)
		default:
			var built bool
			built, errs[i] = r.build(ctx, p, u, opts, out)
			if !built && errs[i] == nil {
				r.unbuiltInGroup(ctx, group, u)
			}
		}
	}
	if r.BeforeRefMove != nil {
		r.BeforeRefMove()
	}
	return errs
}

// build runs the build of branch update u and returns its verdict: nil lets the branch move. built is false
// when the commit has nothing to build (the branch moves as for a tag).
func (r *Rules) build(ctx context.Context, p gitd.Push, u gitd.RefUpdate, opts options, out io.Writer) (built bool, err error) {
	branch := strings.TrimPrefix(u.Name, "refs/heads/")
	// The rebuilds a green build will owe are recorded before it runs, so that they outlive a stop
	// between its verdict and its ref move; they are forgotten unless it passes.
	rebuilds := r.recordRebuilds(ctx, p.Project, u)
	pusher := baleen.Identity{User: p.Identity.User, Fingerprint: p.Fingerprint}.Pusher()
	b, err := r.sched.Run(ctx, pipeline.Request{Project: p.Project, Branch: branch, Commit: u.New, Pusher: pusher, Signer: signer(p), Identity: p.Identity,
		Out: out, NoDeploy: opts.noDeploy, Old: u.Old, HoldImages: true})
	if err == nil {
		r.mu.Lock()
		r.unsettled[pushKey(p.Project, u)] = b.Number
		r.mu.Unlock()
	}
	if err != nil || b.Status != baleen.StatusPassed {
		r.forgetRebuilds(context.WithoutCancel(ctx), rebuilds)
	}
	switch {
	case errors.Is(err, pipeline.ErrNothingToBuild):
		fmt.Fprintf(out, "%s: nothing to build (no baleen.yml)\n", branch)
		return false, nil
	case err != nil:
		r.log.Error("build", "project", p.Project, "commit", u.New, "key", p.Fingerprint, "err", err)
		return false, fmt.Errorf("build not run: %v", err)
	case b.Status == baleen.StatusPassed:
		if len(rebuilds) > 0 {
			var names []string
			for _, d := range rebuilds {
				names = append(names, d.Dependent+" ("+d.Branch+")")
			}
			fmt.Fprintf(out, "queued once %s moves: rebuild of the projects that depend on it: %s\n", branch, strings.Join(names, ", "))
			r.mu.Lock()
			r.pending[pushKey(p.Project, u)] = rebuilds
			r.mu.Unlock()
		}
		return true, nil
	case b.Status == baleen.StatusFailed && b.FailedStage != "":
		return true, fmt.Errorf("build #%d failed: %s", b.Number, b.FailedStage)
	case b.Message != "" && b.Message != string(b.Status):
		return true, fmt.Errorf("build #%d %s: %s", b.Number, b.Status, b.Message)
	default:
		return true, fmt.Errorf("build #%d %s", b.Number, b.Status)
	}
}

// signer is the key that signed p's push certificate, when it verified; "" otherwise.
func signer(p gitd.Push) string {
	if p.Certificate == nil || !p.Certificate.Good() {
		return ""
	}
	return p.Certificate.Key
}

// dependents lists the projects whose latest build depended on branch of project and asked to be rebuilt
// when it changes: the rebuilds a green push of u owes.
func (r *Rules) dependents(ctx context.Context, project string, u gitd.RefUpdate) []store.Rebuild {
	branch := strings.TrimPrefix(u.Name, "refs/heads/")
	ps, err := r.projects.Projects(ctx)
	if err != nil {
		r.log.Error("list projects", "err", err)
		return nil
	}
	var out []store.Rebuild
	for _, p := range ps {
		if p.Name == project {
			continue
		}
		// The latest build that read its baleen.yml to the end: a build still queued or resolving has no
		// dependencies recorded yet, and one with a broken baleen.yml says nothing of them.
		recent, err := r.builds.Builds(ctx, baleen.BuildFilter{Project: p.Name, Limit: 10})
		if err != nil {
			continue
		}
		var b baleen.Build
		for _, c := range recent {
			if c.Status.Final() && c.FailedStage != baleen.StageConfig {
				b = c
				break
			}
		}
		if b.Branch == "" {
			continue
		}
		for _, d := range b.Dependencies {
			if d.Project == project && d.Branch == branch && d.RebuildDependents {
				out = append(out, store.Rebuild{Project: project, Ref: u.Name, Commit: u.New, Dependent: p.Name, Branch: b.Branch})
				break
			}
		}
	}
	return out
}

// PostReceive settles the push's builds now that their refs have moved or not (their images may be
// pruned from now on), starts the rebuilds of dependents that Receive queued for the refs that moved, and
// forgets those of refs that did not.
func (r *Rules) PostReceive(ctx context.Context, p gitd.Push, moved []gitd.RefUpdate) {
	r.mu.Lock()
	queued := map[string][]store.Rebuild{}
	var settle []int
	var group string
	if len(p.Updates) > 0 {
		group = r.groups[pushKey(p.Project, p.Updates[0])]
		delete(r.groups, pushKey(p.Project, p.Updates[0]))
	}
	for _, u := range p.Updates {
		key := pushKey(p.Project, u)
		queued[key] = r.pending[key]
		delete(r.pending, key)
		if n, ok := r.unsettled[key]; ok {
			settle = append(settle, n)
			delete(r.unsettled, key)
		}
	}
	r.mu.Unlock()
	ctx = context.WithoutCancel(ctx)
	for _, n := range settle {
		r.doneRefMove(ctx, p.Project, n)
		r.sched.Settle(ctx, p.Project, n)
	}
	r.doneGroup(ctx, p.Project, group)
	for _, u := range moved {
		key := pushKey(p.Project, u)
		for _, rb := range queued[key] {
			startRebuild(ctx, rb, r.repos, r.rebuildStore(), r.sched, r.log)
		}
		delete(queued, key)
	}
	for _, rebuilds := range queued { // the refs that did not move owe nothing
		r.forgetRebuilds(ctx, rebuilds)
	}
}

// pushKey names one ref update of a push to project.
func pushKey(project string, u gitd.RefUpdate) string {
	return project + "\x00" + u.Name + "\x00" + u.New
}
