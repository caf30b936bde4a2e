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
	// the push has moved the branch.
	pending map[string][]dependent
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

// dependent is a project to rebuild after a dependency's green push.
type dependent struct{ project, branch string }

var (
	_ gitd.Receiver     = (*Rules)(nil)
	_ gitd.PostReceiver = (*Rules)(nil)
)

// New returns the Rules that build with sched and read and record projects, builds and repositories in the
// stores given.
func New(sched Scheduler, projects baleen.ProjectStore, builds baleen.BuildStore, repos baleen.Repositories, log *slog.Logger) *Rules {
	return &Rules{sched: sched, projects: projects, builds: builds, repos: repos, log: log, pending: map[string][]dependent{},
		unsettled: map[string]int{}}
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
			errs[i] = r.build(ctx, p, u, opts, out)
			if p.Atomic && len(p.Updates) > 1 {
				r.forgetAtomicRefMove(ctx, p.Project, u)
			}
		}
	}
	if r.BeforeRefMove != nil {
		r.BeforeRefMove()
	}
	return errs
}

func (r *Rules) build(ctx context.Context, p gitd.Push, u gitd.RefUpdate, opts options, out io.Writer) error {
	branch := strings.TrimPrefix(u.Name, "refs/heads/")
	pusher := baleen.Identity{User: p.Identity.User, Fingerprint: p.Fingerprint}.Pusher()
	b, err := r.sched.Run(ctx, pipeline.Request{Project: p.Project, Branch: branch, Commit: u.New, Pusher: pusher, Identity: p.Identity, Out: out,
		NoDeploy: opts.noDeploy, Old: u.Old, HoldImages: true})
	if err == nil {
		r.mu.Lock()
		r.unsettled[pushKey(p.Project, u)] = b.Number
		r.mu.Unlock()
	}
	switch {
	case errors.Is(err, pipeline.ErrNothingToBuild):
		fmt.Fprintf(out, "%s: nothing to build (no baleen.yml)\n", branch)
		return nil
	case err != nil:
		r.log.Error("build", "project", p.Project, "commit", u.New, "key", p.Fingerprint, "err", err)
		return fmt.Errorf("build not run: %v", err)
	case b.Status == baleen.StatusPassed:
		if deps := r.dependents(ctx, p.Project, branch); len(deps) > 0 {
			var names []string
			for _, d := range deps {
				names = append(names, d.project+" ("+d.branch+")")
			}
			fmt.Fprintf(out, "queued once %s moves: rebuild of the projects that depend on it: %s\n", branch, strings.Join(names, ", "))
			r.mu.Lock()
			r.pending[pushKey(p.Project, u)] = deps
			r.mu.Unlock()
		}
		return nil
	case b.Status == baleen.StatusFailed && b.FailedStage != "":
		return fmt.Errorf("build #%d failed: %s", b.Number, b.FailedStage)
	case b.Message != "" && b.Message != string(b.Status):
		return fmt.Errorf("build #%d %s: %s", b.Number, b.Status, b.Message)
	default:
		return fmt.Errorf("build #%d %s", b.Number, b.Status)
	}
}

// dependents lists the projects whose latest build depended on branch of project and asked to be rebuilt
// when it changes.
func (r *Rules) dependents(ctx context.Context, project, branch string) []dependent {
	ps, err := r.projects.Projects(ctx)
	if err != nil {
		r.log.Error("list projects", "err", err)
		return nil
	}
	var out []dependent
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
				out = append(out, dependent{project: p.Name, branch: b.Branch})
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
	queued := map[string][]dependent{}
	var settle []int
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
	for _, n := range settle {
		r.doneRefMove(context.WithoutCancel(ctx), p.Project, n)
		r.sched.Settle(context.WithoutCancel(ctx), p.Project, n)
	}
	for _, u := range moved {
		deps := queued[pushKey(p.Project, u)]
		for _, d := range deps {
			commit, err := r.repos.Resolve(ctx, d.project, "refs/heads/"+d.branch)
			if err != nil {
				r.log.Error("rebuild dependent", "project", d.project, "err", err)
				continue
			}
			go func() {
				b, err := r.sched.Run(context.WithoutCancel(ctx), pipeline.Request{Project: d.project, Branch: d.branch, Commit: commit,
					Pusher: "rebuild after " + p.Project + " " + strings.TrimPrefix(u.Name, "refs/heads/")})
				if err != nil {
					r.log.Error("rebuild dependent", "project", d.project, "err", err)
					return
				}
				r.log.Info("dependent rebuilt", "project", d.project, "build", b.Number, "status", string(b.Status))
			}()
		}
	}
}

// pushKey names one ref update of a push to project.
func pushKey(project string, u gitd.RefUpdate) string {
	return project + "\x00" + u.Name + "\x00" + u.New
}
