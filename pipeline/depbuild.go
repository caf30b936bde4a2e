package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/spec"
)

// dependencies runs the dependencies stage of b when its spec has repository dependencies: each is built
// bottom-up as a build of its own project, or a green build of its commit is reused, and its images are
// held against pruning until the returned function is called, when b ends. It returns the image each
// dependency runs as. A dependency that names a project of this server is used only when the identity the
// build acts for (req's, or the project's last pusher's) may read it.
func (s *Scheduler) dependencies(ctx context.Context, b baleen.Build, sp *baleen.Spec, req Request, stages *StageRunner) (map[string]string, func(), error) {
	if !HasSources(sp) {
		return nil, func() {}, nil
	}
	var deps map[string]string
	var holds []baleen.BuildID
	held := func(id baleen.BuildID) {
		s.holds.Hold(id)
		holds = append(holds, id)
	}
	id := s.actingIdentity(ctx, b.Project, req)
	err := stages.Run(ctx, baleen.StageDependencies, func(ctx context.Context) error {
		var records []baleen.DependencyBuild
		var err error
		deps, records, err = ResolveDependencies(ctx, sp, append(append([]string{}, req.Chain...), b.Project), localSources{s.cfg.Repos, s.cfg.LocalSources},
			serverProjects{s: s, id: id}, s.buildDependency(b, id, held, req.Out), stages.Out())
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

// serverProjects names dependencies' projects on this server, for a build acting for id.
type serverProjects struct {
	s  *Scheduler
	id baleen.Identity
}

// Local says whether a dependency's src is the bare name of a project on this server. With an Authorizer,
// every bare project name is one, and it is an error, in the same words whether the project is missing or
// id may not read it (so that no pusher learns which projects exist), unless id holds the read role on it.
func (p serverProjects) Local(ctx context.Context, src string) (bool, error) {
	if baleen.ValidateProjectName(src) != nil {
		return false, nil
	}
	_, err := p.s.cfg.Projects.Project(ctx, src)
	if p.s.cfg.Authz == nil {
		return err == nil, nil
	}
	if err != nil && !errors.Is(err, baleen.ErrNotFound) {
		p.s.log.Error("dependency project", "project", src, "err", err)
	}
	if err != nil || p.s.cfg.Authz.Role(ctx, p.id, src) < baleen.RoleRead {
		who := p.id.User
		if who == "" {
			who = "this build (started by the server, with no pusher on record)"
		}
		return false, fmt.Errorf("%s names no project of this server that %s may read: a dependency on a project of this server needs the %s role on it: %w",
			src, who, baleen.RoleRead, baleen.ErrNotFound)
	}
	return true, nil
}

// Claim finds or makes the project that src is fetched into: name when it is free or already src's,
// else name with a digest of src.
func (p serverProjects) Claim(ctx context.Context, name, src string) (string, bool, error) {
	if !(localSources{roots: p.s.cfg.LocalSources}).admits(src) {
		return "", false, refusedSource(src) // before a project is made for it: a refused src leaves nothing
	}
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

// dependencyBuilds is one way of building a repository dependency: as a build of its own project on the
// server (serverDependencies), or as a run on this machine for `baleen build` (LocalDependencies).
// buildDependencies wraps either in what both share.
type dependencyBuilds interface {
	// reuse finds an earlier green build of t's commit whose images the engine still has, and names it for
	// the output ("build #3 of users").
	reuse(ctx context.Context, t DependencyTarget) (res DependencyResult, what string, ok bool)
	// build builds t and writes to out, the dependent's output, what the dependent's readers may see of it;
	// a build that did not pass is an error saying how it ended.
	build(ctx context.Context, t DependencyTarget, out io.Writer) (DependencyResult, error)
}

// buildDependencies is the one way a dependency is built, on the server and in `baleen build` alike: a
// green build of its commit is reused while its images remain; otherwise it is built.
func buildDependencies(d dependencyBuilds) BuildDependency {
	return func(ctx context.Context, t DependencyTarget, out io.Writer) (DependencyResult, error) {
		if res, what, ok := d.reuse(ctx, t); ok {
			fmt.Fprintf(out, "%s: reusing %s at %s (green, images present)\n", t.Name, what, short(t.Commit))
			return res, nil
		}
		fmt.Fprintf(out, "--- %s: building %s %s at %s\n", t.Name, t.Project, t.Branch, short(t.Commit))
		return d.build(ctx, t, out)
	}
}

// buildDependency builds a dependency of b as a build of its own project, or reuses a green build of the
// same commit whose images the engine still has. held marks the dependency build's images as in use until
// b ends. live, when not nil, is where b's pusher watches b's output: it gets each dependency build's
// output too, live, under the dependency's project name ("users | ...").
func (s *Scheduler) buildDependency(b baleen.Build, id baleen.Identity, held func(baleen.BuildID), live io.Writer) BuildDependency {
	return buildDependencies(serverDependencies{s: s, b: b, id: id, held: held, live: live})
}

// serverDependencies builds the dependencies of the server's build b as builds of their own projects,
// acting for the same identity as b (id), so that their own dependencies are checked against it too.
//
// A dependency build's output is its own project's log, which only readers of that project may read: b's
// log, which readers of b read, gets one line saying how it ended and where its log is. b's pusher, who
// named the dependency (and needed the read role on it when it is a project of this server), watches its
// output live on live.
type serverDependencies struct {
	s    *Scheduler
	b    baleen.Build
	id   baleen.Identity
	held func(baleen.BuildID)
	live io.Writer
}

func (d serverDependencies) reuse(ctx context.Context, t DependencyTarget) (DependencyResult, string, bool) {
	prev, ok := d.s.reusable(ctx, t.Project, t.Commit, d.held)
	if !ok {
		return DependencyResult{}, "", false
	}
	return DependencyResult{Build: prev.Number, Reused: true, Images: prev.Images}, fmt.Sprintf("build #%d of %s", prev.Number, t.Project), true
}

func (d serverDependencies) build(ctx context.Context, t DependencyTarget, out io.Writer) (DependencyResult, error) {
	var live io.Writer
	if d.live != nil {
		live = PrefixWriter(d.live, t.Project+" | ")
	}
	db, err := d.s.Run(ctx, Request{
		Project: t.Project, Branch: t.Branch, Commit: t.Commit, Chain: t.Chain[:len(t.Chain)-1],
		Pusher: fmt.Sprintf("dependency of %s#%d", d.b.Project, d.b.Number), Identity: d.id,
		Out: live,
	})
	if err != nil {
		return DependencyResult{}, err
	}
	where := fmt.Sprintf("(ssh HOST logs %s %d)", t.Project, db.Number)
	if db.Status != baleen.StatusPassed {
		what := string(db.Status)
		if db.FailedStage != "" {
			what += ": " + string(db.FailedStage)
		}
		// Not the dependency's message: it goes into the dependent's record, which readers of the dependent
		// may read without the read role on the dependency. The stage and the log's address say where to look.
		return DependencyResult{}, fmt.Errorf("build #%d of %s %s %s", db.Number, t.Project, what, where)
	}
	fmt.Fprintf(out, "dependency %s: build #%d of %s passed %s\n", t.Name, db.Number, t.Project, where)
	d.held(db.ID(d.s.cfg.Instance))
	return DependencyResult{Build: db.Number, Images: db.Images}, nil
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

// LocalImages is what LocalDependencies needs of the engine's images (*docker.Engine has it). Its methods
// are safe for concurrent use.
type LocalImages interface {
	// ImageExists reports whether ref is present in the engine.
	ImageExists(ctx context.Context, ref string) (bool, error)
	// Tag gives the image src the further reference ref.
	Tag(ctx context.Context, src, ref string) error
}

// LocalDependencies builds repository dependencies on this machine, for `baleen build`, with no store:
// each runs through the Pipeline, bottom-up, under a build id of its own; a green one is then tagged
// "<image>:dep-<project>-<commit>", and a later local build reuses it while those tags remain, so that a
// dependency that failed or was stopped is never taken for green.
type LocalDependencies struct {
	Pipeline *Pipeline
	Images   LocalImages
	Repos    DependencyRepos
	// ArtifactsDir receives each dependency's artifacts, under ArtifactsDir/<project>.
	ArtifactsDir string
	// Credential returns the value of a credential a dependency's baleen.yml names; "" when it is not set.
	Credential func(name string) string
	// NewID names each dependency build.
	NewID func() (baleen.BuildID, error)
	// Done, when set, is called after each dependency build has run, green or not, with the id it ran
	// under (`baleen build` removes that run's tags).
	Done func(id baleen.BuildID, sp *baleen.Spec, out io.Writer)
}

// Build returns the BuildDependency that ResolveDependencies calls for each dependency.
func (l *LocalDependencies) Build() BuildDependency { return buildDependencies(l) }

// spec reads and checks the baleen.yml of t's commit, and names the per-commit tag of each of its images.
func (l *LocalDependencies) spec(ctx context.Context, t DependencyTarget) (*baleen.Spec, fs.FS, map[string]string, error) {
	tree, err := l.Repos.Tree(ctx, t.Project, t.Commit)
	if err != nil {
		return nil, nil, nil, err
	}
	data, err := fs.ReadFile(tree, "baleen.yml")
	if err != nil {
		return nil, nil, nil, err
	}
	f, err := spec.ParseFile("baleen.yml", data)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := f.CheckTree(tree); err != nil {
		return nil, nil, nil, err
	}
	id := baleen.BuildID("dep-" + t.Project + "-" + short(t.Commit))
	images := map[string]string{}
	for _, img := range f.Spec.Build {
		images[img.Name] = id.ImageTag(img.Name)
	}
	return f.Spec, tree, images, nil
}

func (l *LocalDependencies) reuse(ctx context.Context, t DependencyTarget) (DependencyResult, string, bool) {
	_, _, images, err := l.spec(ctx, t)
	if err != nil {
		return DependencyResult{}, "", false // build says what is wrong
	}
	for _, ref := range images {
		if ok, err := l.Images.ImageExists(ctx, ref); err != nil || !ok {
			return DependencyResult{}, "", false
		}
	}
	return DependencyResult{Reused: true, Images: images}, "the images of " + t.Project, true
}

func (l *LocalDependencies) build(ctx context.Context, t DependencyTarget, out io.Writer) (DependencyResult, error) {
	out = PrefixWriter(out, t.Project+" | ") // on a workstation, all of it: there are no readers to keep apart
	sp, tree, images, err := l.spec(ctx, t)
	if err != nil {
		return DependencyResult{}, err
	}
	deps, _, err := ResolveDependencies(ctx, sp, t.Chain, l.Repos, nil, l.Build(), out)
	if err != nil {
		return DependencyResult{}, err
	}
	secrets := map[string]string{}
	for _, name := range sp.BuildSecrets() {
		if secrets[name] = l.Credential(name); secrets[name] == "" {
			return DependencyResult{}, fmt.Errorf("credential %s (named in %s's baleen.yml) is not set in the environment", name, t.Project)
		}
	}
	id, err := l.NewID()
	if err != nil {
		return DependencyResult{}, err
	}
	if l.Done != nil {
		defer l.Done(id, sp, out)
	}
	res, err := l.Pipeline.Run(ctx, Run{ID: id, Spec: sp, Source: tree, Secrets: secrets,
		ArtifactsDir: filepath.Join(l.ArtifactsDir, t.Project), Out: out, Dependencies: deps})
	if err != nil {
		return DependencyResult{}, err
	}
	if res.Status != baleen.StatusPassed {
		return DependencyResult{}, fmt.Errorf("the build of %s at %s %s: %s: %s", t.Project, short(t.Commit), res.Status, res.FailedStage, res.Message)
	}
	for name, ref := range res.Images {
		if err := l.Images.Tag(ctx, ref, images[name]); err != nil {
			return DependencyResult{}, fmt.Errorf("tag %s: %w", images[name], err)
		}
	}
	return DependencyResult{Images: images}, nil
}
