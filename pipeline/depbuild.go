package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/baleen-ci/baleen"
)

// dependencies runs the dependencies stage of b when its spec has repository dependencies: each is built
// bottom-up as a build of its own project, or a green build of its commit is reused, and its images are
// held against pruning until the returned function is called, when b ends. It returns the image each
// dependency runs as.
func (s *Scheduler) dependencies(ctx context.Context, b baleen.Build, sp *baleen.Spec, chain []string, stages *StageRunner) (map[string]string, func(), error) {
	if !HasSources(sp) {
		return nil, func() {}, nil
	}
	var deps map[string]string
	var holds []baleen.BuildID
	held := func(id baleen.BuildID) {
		s.holds.Hold(id)
		holds = append(holds, id)
	}
	err := stages.Run(ctx, baleen.StageDependencies, func(ctx context.Context) error {
		var records []baleen.DependencyBuild
		var err error
		deps, records, err = ResolveDependencies(ctx, sp, append(append([]string{}, chain...), b.Project), localSources{s.cfg.Repos, s.cfg.LocalSources},
			serverProjects{s}, s.buildDependency(b, held), stages.Out())
		if _, perr := s.cfg.Builds.UpdateBuild(context.WithoutCancel(ctx), b.Project, b.Number, baleen.BuildPatch{Dependencies: records}); perr != nil {
			s.log.Error("record dependencies", "project", b.Project, "build", b.Number, "err", perr)
		}
		return err
	})
	release := func() { s.holds.Release(holds...) }
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(stages.Out(), "FAILED: %s\n", baleen.StageDependencies)
	}
	return deps, release, err
}

// serverProjects names dependencies' projects on this server.
type serverProjects struct{ s *Scheduler }

// Local says whether a dependency's src is the bare name of a project on this server.
func (p serverProjects) Local(ctx context.Context, src string) bool {
	if baleen.ValidateProjectName(src) != nil {
		return false
	}
	_, err := p.s.cfg.Projects.Project(ctx, src)
	return err == nil
}

// Claim finds or makes the project that src is fetched into: name when it is free or already src's,
// else name with a digest of src.
func (p serverProjects) Claim(ctx context.Context, name, src string) (string, bool, error) {
	for _, candidate := range []string{name, DisambiguatedName(name, src)} {
		proj, err := p.s.cfg.Projects.Project(ctx, candidate)
		switch {
		case err == nil && proj.Src == baleen.RedactURL(src):
			return candidate, false, nil
		case err == nil:
			continue // taken by a pushed project or another source
		case !errors.Is(err, baleen.ErrNotFound):
			return "", false, err
		}
		err = p.s.cfg.Projects.CreateProject(ctx, baleen.Project{Name: candidate, Src: baleen.RedactURL(src), Created: time.Now().UTC()})
		if err == nil {
			return candidate, true, nil
		}
		if !errors.Is(err, baleen.ErrExists) {
			return "", false, err
		}
		// Made meanwhile by a build of another dependent: it is ours if it has our source.
		if proj, gerr := p.s.cfg.Projects.Project(ctx, candidate); gerr == nil && proj.Src == baleen.RedactURL(src) {
			return candidate, false, nil
		}
	}
	return "", false, fmt.Errorf("no project name free for %s: %w", baleen.RedactURL(src), baleen.ErrConflict)
}

// buildDependency builds a dependency of b as a build of its own project, or reuses a green build of the
// same commit whose images the engine still has. held marks the dependency build's images as in use until
// b ends.
func (s *Scheduler) buildDependency(b baleen.Build, held func(baleen.BuildID)) BuildDependency {
	return func(ctx context.Context, t DependencyTarget, out io.Writer) (DependencyResult, error) {
		if prev, ok := s.reusable(ctx, t.Project, t.Commit, held); ok {
			fmt.Fprintf(out, "%s: reusing build #%d of %s at %s (green, images present)\n", t.Name, prev.Number, t.Project, short(t.Commit))
			return DependencyResult{Build: prev.Number, Reused: true, Images: prev.Images}, nil
		}
		fmt.Fprintf(out, "--- %s: building %s %s at %s\n", t.Name, t.Project, t.Branch, short(t.Commit))
		db, err := s.Run(ctx, Request{
			Project: t.Project, Branch: t.Branch, Commit: t.Commit, Chain: t.Chain[:len(t.Chain)-1],
			Pusher: fmt.Sprintf("dependency of %s#%d", b.Project, b.Number),
			Out:    PrefixWriter(out, t.Project+" | "),
		})
		if err != nil {
			return DependencyResult{}, err
		}
		if db.Status != baleen.StatusPassed {
			what := string(db.Status)
			if db.FailedStage != "" {
				what += ": " + string(db.FailedStage)
			}
			return DependencyResult{}, fmt.Errorf("build #%d of %s %s (ssh HOST logs %s %d)", db.Number, t.Project, what, t.Project, db.Number)
		}
		held(db.ID(s.cfg.Instance))
		return DependencyResult{Build: db.Number, Images: db.Images}, nil
	}
}

// reusable finds a green build of project at commit whose images are all still in the engine, and holds
// them for the dependent (before it checks them, so that no prune can take them in between).
func (s *Scheduler) reusable(ctx context.Context, project, commit string, held func(baleen.BuildID)) (baleen.Build, bool) {
	if s.imagesOn(ctx) == nil {
		return baleen.Build{}, false
	}
	builds, err := s.cfg.Builds.Builds(ctx, baleen.BuildFilter{Project: project, Statuses: []baleen.Status{baleen.StatusPassed}})
	if err != nil {
		return baleen.Build{}, false
	}
	for _, prev := range builds {
		if prev.Commit != commit || len(prev.Images) == 0 {
			continue
		}
		held(prev.ID(s.cfg.Instance))
		if s.imagesPresent(ctx, prev.Images) {
			return prev, true
		}
	}
	return baleen.Build{}, false
}

// imagesPresent reports whether the engine has every image in refs.
func (s *Scheduler) imagesPresent(ctx context.Context, refs map[string]string) bool {
	for _, ref := range refs {
		if ok, err := s.imagesOn(ctx).ImageExists(ctx, ref); err != nil || !ok {
			return false
		}
	}
	return true
}
