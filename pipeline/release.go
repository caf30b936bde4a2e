package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/spec"
)

// DefaultDeployBranch is the branch whose green builds deploy when baleen.yml names none.
const DefaultDeployBranch = "main"

// deploy runs the deploy stage for build b: it records a release, rolls it out with the Deployer and
// records how each host ended. A release that fails on any host fails the stage.
func (s *Scheduler) deploy(ctx context.Context, b baleen.Build, sp *baleen.Spec, images map[string]string, pushed []baleen.PushedImage,
	by string, out io.Writer) (baleen.Release, baleen.StageResult) {
	// The units' credentials (and the build's) go to the hosts; nothing the rollout prints may show them.
	var secrets []string
	for _, name := range sp.Credentials {
		if v, ok := s.cfg.Secret(name); ok {
			secrets = append(secrets, v)
		}
	}
	for _, u := range sp.Deploy.Units {
		for _, name := range u.Credentials {
			if v, ok := s.cfg.Secret(name); ok {
				secrets = append(secrets, v)
			}
		}
	}
	mask := NewMasker(out, secrets)
	defer mask.Close()
	out = mask
	fmt.Fprintf(out, "==> %s\n", baleen.StageDeploy)
	start := time.Now()
	sr := baleen.StageResult{Stage: baleen.StageDeploy, Status: baleen.StatusPassed}
	fail := func(rel baleen.Release, msg string) (baleen.Release, baleen.StageResult) {
		msg = mask.String(msg)
		sr.Status, sr.Message, sr.Duration = baleen.StatusFailed, msg, time.Since(start)
		fmt.Fprintf(out, "--> %s failed in %s: %s\n", sr.Stage, round(sr.Duration), msg)
		return rel, sr
	}
	if s.cfg.Deployer == nil || s.cfg.Releases == nil {
		return fail(baleen.Release{}, fmt.Sprintf("deploy target %q: this server has no deploy targets (targets in its config)", sp.Deploy.Target))
	}
	refs, err := releaseImages(sp.Deploy, images, pushed)
	if err != nil {
		return fail(baleen.Release{}, err.Error())
	}
	if ctx.Err() != nil {
		return fail(baleen.Release{}, s.stopped(ctx).Message)
	}
	rctx := context.WithoutCancel(ctx)
	rel, err := s.cfg.Releases.CreateRelease(rctx, baleen.Release{
		Project: b.Project, Build: b.Number, Commit: b.Commit, Target: sp.Deploy.Target, Images: refs,
		Status: baleen.StatusRunning, Started: time.Now().UTC(), By: by,
	})
	if err != nil {
		return fail(rel, fmt.Sprintf("record release: %v", err))
	}
	fmt.Fprintf(out, "release #%d of %s: build #%d to %s\n", rel.Number, b.Project, b.Number, sp.Deploy.Target)
	hosts, err := s.cfg.Deployer.Deploy(ctx, rel, *sp.Deploy, out)
	status, msg := baleen.StatusPassed, ""
	switch {
	case ctx.Err() != nil:
		status, msg = s.stopped(ctx).Status, s.stopped(ctx).Message
	case err != nil:
		status, msg = baleen.StatusFailed, err.Error()
	}
	for i := range hosts {
		hosts[i].Message = mask.String(hosts[i].Message)
	}
	msg = mask.String(msg)
	for _, h := range hosts {
		// A failed host's message names the host, the unit and the reason already.
		if status == baleen.StatusPassed && h.Status != baleen.StatusPassed {
			status, msg = baleen.StatusFailed, h.Message
		}
	}
	now := time.Now().UTC()
	rel, uerr := s.cfg.Releases.UpdateRelease(rctx, b.Project, rel.Number, baleen.ReleasePatch{Status: &status, Message: &msg, Hosts: hosts, Finished: &now})
	if uerr != nil {
		s.log.Error("record release", "project", b.Project, "release", rel.Number, "err", uerr)
	}
	if status != baleen.StatusPassed {
		return fail(rel, fmt.Sprintf("release #%d %s: %s", rel.Number, status, msg))
	}
	sr.Duration = time.Since(start)
	fmt.Fprintf(out, "--> %s passed in %s: release #%d runs on %d hosts\n", sr.Stage, round(sr.Duration), rel.Number, len(hosts))
	return rel, sr
}

// releaseImages picks, for each image the deploy units run, the reference hosts get it by: the pushed
// digest ("registry/name@sha256:…") when the build pushed it, else the build's own tag, which the
// Deployer ships over SSH.
func releaseImages(d *baleen.Deploy, images map[string]string, pushed []baleen.PushedImage) (map[string]string, error) {
	refs := map[string]string{}
	for _, u := range d.Units {
		if _, done := refs[u.Image]; done {
			continue
		}
		for _, p := range pushed {
			repo := p.Ref[:strings.LastIndex(p.Ref, ":")]
			if strings.HasSuffix(repo, "/"+u.Image) && p.Digest != "" {
				refs[u.Image] = repo + "@" + p.Digest
				break
			}
		}
		if _, ok := refs[u.Image]; !ok {
			ref, ok := images[u.Image]
			if !ok {
				return nil, fmt.Errorf("unit %s runs image %s, which this build did not make", u.Name, u.Image)
			}
			refs[u.Image] = ref
		}
	}
	return refs, nil
}

// DeployBuild deploys green build number of project again (ssh HOST deploy) and returns its release. It
// waits for the project's queue like a build, and its output goes to out.
func (s *Scheduler) DeployBuild(ctx context.Context, project string, number int, by string, out io.Writer) (baleen.Release, error) {
	if !s.enter() {
		return baleen.Release{}, fmt.Errorf("server is shutting down: %w", baleen.ErrUnavailable)
	}
	defer s.wg.Done()
	b, err := s.cfg.Builds.Build(ctx, project, number)
	if err != nil {
		return baleen.Release{}, err
	}
	if b.Status != baleen.StatusPassed {
		return baleen.Release{}, fmt.Errorf("build #%d of %s is %s; only green builds deploy: %w", number, project, b.Status, baleen.ErrInvalid)
	}
	tree, err := s.cfg.Repos.Tree(ctx, project, b.Commit)
	if err != nil {
		return baleen.Release{}, err
	}
	data, err := fs.ReadFile(tree, "baleen.yml")
	if err != nil {
		return baleen.Release{}, fmt.Errorf("read baleen.yml of build #%d: %w", number, err)
	}
	sp, err := spec.Parse("baleen.yml", data)
	if err != nil {
		return baleen.Release{}, fmt.Errorf("baleen.yml of build #%d: %w", number, err)
	}
	if sp.Deploy == nil {
		return baleen.Release{}, fmt.Errorf("build #%d of %s has no deploy section in its baleen.yml: %w", number, project, baleen.ErrInvalid)
	}
	bctx, cancel := context.WithCancelCause(s.base)
	defer cancel(nil)
	release, err := s.acquireProject(bctx, b, nil, out)
	if err != nil {
		return baleen.Release{}, err
	}
	defer release()
	// Checked in the project's queue, where no build of the project can prune them meanwhile.
	if len(b.Pushed) == 0 && s.cfg.Images != nil {
		for _, ref := range b.Images {
			if ok, err := s.cfg.Images.ImageExists(ctx, ref); err == nil && !ok {
				return baleen.Release{}, fmt.Errorf("the images of build #%d of %s were pruned; rebuild it first (ssh HOST rebuild %s %d): %w", number, project, project, number, baleen.ErrNotFound)
			}
		}
	}
	rel, sr := s.deploy(bctx, b, sp, b.Images, b.Pushed, by, out)
	if sr.Status != baleen.StatusPassed {
		return rel, errors.New(sr.Message)
	}
	return rel, nil
}

// Rollback deploys the build of an earlier release again: of release number, or, when number is 0, of the
// last passed release before the current one.
func (s *Scheduler) Rollback(ctx context.Context, project string, number int, by string, out io.Writer) (baleen.Release, error) {
	if s.cfg.Releases == nil {
		return baleen.Release{}, fmt.Errorf("this server deploys nothing: %w", baleen.ErrNotFound)
	}
	var target baleen.Release
	if number > 0 {
		r, err := s.cfg.Releases.Release(ctx, project, number)
		if err != nil {
			return baleen.Release{}, err
		}
		target = r
	} else {
		rs, err := s.cfg.Releases.Releases(ctx, project, 0)
		if err != nil {
			return baleen.Release{}, err
		}
		var passed []baleen.Release
		for _, r := range rs {
			if r.Status == baleen.StatusPassed {
				passed = append(passed, r)
			}
		}
		if len(passed) < 2 {
			return baleen.Release{}, fmt.Errorf("%s has no release before the current one to roll back to: %w", project, baleen.ErrNotFound)
		}
		target = passed[1]
	}
	fmt.Fprintf(out, "rolling %s back to release #%d (build #%d)\n", project, target.Number, target.Build)
	return s.DeployBuild(ctx, project, target.Build, by, out)
}

// releasedBuilds lists the builds of project that passed releases run: their images stay.
func (s *Scheduler) releasedBuilds(ctx context.Context, project string) ([]int, error) {
	if s.cfg.Releases == nil {
		return nil, nil
	}
	rs, err := s.cfg.Releases.Releases(ctx, project, 0)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, r := range rs {
		if r.Status == baleen.StatusPassed {
			out = append(out, r.Build)
		}
	}
	return out, nil
}

// recoverReleases marks the releases that were rolling out when the server stopped as interrupted. Each
// host is on its old or its new release (the Deployer switches atomically and repairs a cut-short switch
// on its next run).
func (s *Scheduler) recoverReleases(ctx context.Context) error {
	if s.cfg.Releases == nil {
		return nil
	}
	ps, err := s.cfg.Projects.Projects(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range ps {
		rs, err := s.cfg.Releases.Releases(ctx, p.Name, 0)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range rs {
			if r.Status.Final() {
				continue
			}
			st, msg, now := baleen.StatusInterrupted, "interrupted: the server stopped during the rollout", time.Now().UTC()
			if _, err := s.cfg.Releases.UpdateRelease(ctx, p.Name, r.Number, baleen.ReleasePatch{Status: &st, Message: &msg, Finished: &now}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
