package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/spec"
)

// DefaultDeployBranch is the branch whose green builds deploy when baleen.yml names none.
const DefaultDeployBranch = "main"

// deploy runs the deploy stage for build b through stages: it records a release, rolls it out with the
// Deployer and records how each host ended, publishing release_started, host_switched per host and
// release_finished. A release that fails on any host fails the stage.
func (s *Scheduler) deploy(ctx context.Context, b baleen.Build, sp *baleen.Spec, images map[string]string, pushed []baleen.PushedImage,
	by string, stages *StageRunner) (baleen.Release, error) {
	var rel baleen.Release
	err := stages.RunNoted(ctx, baleen.StageDeploy, func(ctx context.Context) (string, error) {
		if s.cfg.Deployer == nil || s.cfg.Releases == nil {
			return "", fmt.Errorf("deploy target %q: this server has no deploy targets (targets in its config)", sp.Deploy.Target)
		}
		refs, err := releaseImages(sp.Deploy, images, pushed)
		if err != nil {
			return "", err
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		rel, err = s.rollout(ctx, b, sp, refs, by, stages)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("release #%d runs on %d hosts", rel.Number, len(rel.Hosts)), nil
	})
	return rel, err
}

// rollout records a release of b, rolls it out and records its outcome.
func (s *Scheduler) rollout(ctx context.Context, b baleen.Build, sp *baleen.Spec, refs map[string]string, by string, stages *StageRunner) (baleen.Release, error) {
	out, rctx := stages.Out(), context.WithoutCancel(ctx)
	rel, err := s.cfg.Releases.CreateRelease(rctx, baleen.Release{
		Project: b.Project, Build: b.Number, Commit: b.Commit, Target: sp.Deploy.Target, Images: refs,
		Status: baleen.StatusRunning, Started: time.Now().UTC(), By: by,
	})
	if err != nil {
		return rel, fmt.Errorf("record release: %w", err)
	}
	s.publishRelease(baleen.EventReleaseStarted, rel, "")
	fmt.Fprintf(out, "release #%d of %s: build #%d to %s\n", rel.Number, b.Project, b.Number, sp.Deploy.Target)
	hosts, err := s.cfg.Deployer.Deploy(ctx, rel, *sp.Deploy, out)
	status, msg := rolloutOutcome(ctx, hosts, err)
	for i := range hosts {
		hosts[i].Message = stages.Mask(hosts[i].Message)
	}
	msg = stages.Mask(msg)
	now := time.Now().UTC()
	if nr, uerr := s.cfg.Releases.UpdateRelease(rctx, b.Project, rel.Number, baleen.ReleasePatch{Status: &status, Message: &msg, Hosts: hosts, Finished: &now}); uerr != nil {
		s.log.Error("record release", "project", b.Project, "release", rel.Number, "err", uerr)
		rel.Status, rel.Message, rel.Hosts = status, msg, hosts
	} else {
		rel = nr
	}
	for _, h := range hosts {
		s.publishRelease(baleen.EventHostSwitched, rel, h.Host, h.Status)
	}
	s.publishRelease(baleen.EventReleaseFinished, rel, "", status)
	if status != baleen.StatusPassed {
		return rel, fmt.Errorf("release #%d %s: %s", rel.Number, status, msg)
	}
	return rel, nil
}

// rolloutOutcome is the one outcome of a rollout: stopped when ctx was, failed with the Deployer's error,
// else failed with the message of the first host that did not pass, else passed.
func rolloutOutcome(ctx context.Context, hosts []baleen.HostResult, err error) (baleen.Status, string) {
	switch {
	case ctx.Err() != nil:
		return Stopped(ctx)
	case err != nil:
		return baleen.StatusFailed, err.Error()
	}
	for _, h := range hosts {
		// A failed host's message names the host, the unit and the reason already.
		if h.Status != baleen.StatusPassed {
			return baleen.StatusFailed, h.Message
		}
	}
	return baleen.StatusPassed, ""
}

func (s *Scheduler) publishRelease(kind baleen.EventKind, rel baleen.Release, host string, status ...baleen.Status) {
	r := rel
	e := baleen.Event{Kind: kind, Project: rel.Project, Build: rel.Build, Release: &r, Host: host}
	if len(status) > 0 {
		e.Status = status[0]
	}
	s.events.Publish(e)
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
			if (p.Image == u.Image || p.Image == "" && strings.HasSuffix(repo, "/"+u.Image)) && p.Digest != "" {
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
	if !s.enter(false) {
		return baleen.Release{}, fmt.Errorf("server is shutting down: %w", baleen.ErrUnavailable)
	}
	defer s.wg.Done()
	b, sp, err := s.deployable(ctx, project, number)
	if err != nil {
		return baleen.Release{}, err
	}
	bctx, cancel := context.WithCancelCause(s.base)
	defer cancel(nil)
	release, err := s.projects.Acquire(bctx, b.Project, b.Number, nil, func(holder int) {
		fmt.Fprintf(out, "waiting for build #%d of %s to finish\n", holder, b.Project)
	})
	if err != nil {
		return baleen.Release{}, err
	}
	defer release()
	// Checked in the project's queue, where no build of the project can prune them meanwhile.
	if len(b.Pushed) == 0 && s.cfg.Images != nil && !s.imagesPresent(ctx, b.Images) {
		return baleen.Release{}, fmt.Errorf("the images of build #%d of %s were pruned; rebuild it first (ssh HOST rebuild %s %d): %w", number, project, project, number, baleen.ErrNotFound)
	}
	stages := NewStageRunner(StageConfig{Out: out, Secrets: s.maskedSecrets(sp)})
	defer stages.Close()
	rel, err := s.deploy(bctx, b, sp, b.Images, b.Pushed, by, stages)
	var se *StageError
	if errors.As(err, &se) {
		return rel, errors.New(se.Message)
	}
	return rel, err
}

// deployable reads green build number of project and the spec of its commit, which must deploy.
func (s *Scheduler) deployable(ctx context.Context, project string, number int) (baleen.Build, *baleen.Spec, error) {
	b, err := s.cfg.Builds.Build(ctx, project, number)
	if err != nil {
		return b, nil, err
	}
	if b.Status != baleen.StatusPassed {
		return b, nil, fmt.Errorf("build #%d of %s is %s; only green builds deploy: %w", number, project, b.Status, baleen.ErrInvalid)
	}
	_, data, err := s.specFile(ctx, project, b.Commit)
	if err != nil {
		return b, nil, fmt.Errorf("build #%d: %w", number, err)
	}
	sp, err := spec.Parse("baleen.yml", data)
	if err != nil {
		return b, nil, fmt.Errorf("baleen.yml of build #%d: %w", number, err)
	}
	if sp.Deploy == nil {
		return b, nil, fmt.Errorf("build #%d of %s has no deploy section in its baleen.yml: %w", number, project, baleen.ErrInvalid)
	}
	return b, sp, nil
}

// Rollback deploys the build of an earlier release again: of release number, or, when number is 0, of the
// last passed release before the current one.
func (s *Scheduler) Rollback(ctx context.Context, project string, number int, by string, out io.Writer) (baleen.Release, error) {
	if s.cfg.Releases == nil {
		return baleen.Release{}, fmt.Errorf("this server deploys nothing: %w", baleen.ErrNotFound)
	}
	target, err := s.rollbackTarget(ctx, project, number)
	if err != nil {
		return baleen.Release{}, err
	}
	fmt.Fprintf(out, "rolling %s back to release #%d (build #%d)\n", project, target.Number, target.Build)
	return s.DeployBuild(ctx, project, target.Build, by, out)
}

// rollbackTarget is release number of project, or, when number is 0, the last passed release before the
// current one.
func (s *Scheduler) rollbackTarget(ctx context.Context, project string, number int) (baleen.Release, error) {
	if number > 0 {
		return s.cfg.Releases.Release(ctx, project, number)
	}
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
	return passed[1], nil
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
