package pipeline

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"slices"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/spec"
)

// errConfig is the verdict of a build whose baleen.yml cannot be used.
const errConfig = "baleen.yml is not valid"

// run runs build b on the server, stage by stage: config, dependencies, the pipeline's stages, deploy.
// chain is the projects whose builds wait for this one, for cycle detection.
func (s *Scheduler) run(ctx context.Context, b baleen.Build, tree fs.FS, data []byte, out io.Writer, req Request) baleen.Result {
	sp, secrets, warnings, cerr := s.config(b.Project, tree, data)
	var stages *StageRunner
	stages = NewStageRunner(StageConfig{Out: out, Secrets: s.maskedSecrets(sp), Events: s.events, Project: b.Project, Build: b.Number,
		Done: func(baleen.StageResult) { s.recordStages(ctx, b, stages.Stages()) }})
	defer stages.Close()
	if err := stages.Run(ctx, baleen.StageConfig, func(context.Context) error { return warned(stages.Out(), warnings, cerr) }); err != nil {
		fmt.Fprintf(stages.Out(), "FAILED: %s: %s\n", baleen.StageConfig, errConfig)
		res := stages.Result(ctx, err)
		res.Message = errConfig
		return res
	}
	// The build's engine comes first: its dependency builds run there too, in its slot.
	a := attempt{b: b, id: b.ID(s.cfg.Instance), sp: sp, secrets: secrets, tree: tree, req: req, stages: stages}
	res, placed := s.attemptOn(ctx, a, nil)
	res, placed = s.retryElsewhere(ctx, a, placed, res)
	defer placed.Release()
	switch {
	case res.Status != baleen.StatusPassed || sp.Deploy == nil:
	case req.NoDeploy:
		fmt.Fprintf(stages.Out(), "==> %s\nskipped: the push said deploy=false\n", baleen.StageDeploy)
	default:
		s.deployStage(ctx, b, sp, &res, stages)
	}
	res.Stages = stages.Stages()
	return res
}

// config parses baleen.yml, checks it against the tree and finds the server's value of each credential
// its containers get. Its error is the config stage's; its warnings are printed there.
func (s *Scheduler) config(project string, tree fs.FS, data []byte) (*baleen.Spec, map[string]string, spec.Errors, error) {
	parsed, err := spec.ParseFile("baleen.yml", data)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := parsed.CheckTree(tree); err != nil {
		return nil, nil, parsed.Warnings, err
	}
	if err := parsed.CheckSecrets(s.refuseSecret(project, parsed.Spec)); err != nil {
		return nil, nil, parsed.Warnings, err
	}
	if s.cfg.Deployer != nil && len(s.cfg.DeployTargets) > 0 {
		if err := parsed.CheckTargets(s.cfg.DeployTargets); err != nil {
			return nil, nil, parsed.Warnings, err
		}
	}
	if s.cfg.Engines != nil {
		if err := s.cfg.Engines.CheckLabels(parsed.Spec.RunsOn); err != nil {
			return nil, nil, parsed.Warnings, fmt.Errorf("baleen.yml: runs_on: %w", err)
		}
	}
	secrets := map[string]string{}
	for _, name := range parsed.Spec.BuildSecrets() {
		secrets[name], _ = s.cfg.Secret(name) // refuseSecret made sure of it
	}
	return parsed.Spec, secrets, parsed.Warnings, nil
}

// refuseSecret says why project may not name a secret: CredentialScope's refusal (for every secret,
// deploy units' included), or, for a secret the build's containers get, that the server has none.
func (s *Scheduler) refuseSecret(project string, sp *baleen.Spec) func(name string) error {
	build := sp.BuildSecrets()
	return func(name string) error {
		if s.cfg.CredentialScope != nil {
			if err := s.cfg.CredentialScope(project, []string{name}); err != nil {
				return err
			}
		}
		if _, ok := s.cfg.Secret(name); !ok && slices.Contains(build, name) {
			return fmt.Errorf("credential %s is not configured on the server (credentials in its config file)", name)
		}
		return nil
	}
}

// maskedSecrets are the values masked in a build's output: those of every secret its containers get and
// of its deploy units'.
func (s *Scheduler) maskedSecrets(sp *baleen.Spec) []string {
	if sp == nil {
		return nil
	}
	names := sp.BuildSecrets()
	if sp.Deploy != nil {
		for _, u := range sp.Deploy.Units {
			names = append(names, u.Credentials...)
		}
	}
	var vs []string
	for _, name := range names {
		if v, ok := s.cfg.Secret(name); ok {
			vs = append(vs, v)
		}
	}
	return vs
}

// recordStages stores the stages of b so far: called as each stage ends.
func (s *Scheduler) recordStages(ctx context.Context, b baleen.Build, stages []baleen.StageResult) {
	if _, err := s.cfg.Builds.UpdateBuild(context.WithoutCancel(ctx), b.Project, b.Number, baleen.BuildPatch{Stages: stages}); err != nil {
		s.log.Error("record stage", "project", b.Project, "build", b.Number, "err", err)
	}
}

// deployStage runs the deploy stage of a green build of the deploy branch, and makes res failed when the
// release failed.
func (s *Scheduler) deployStage(ctx context.Context, b baleen.Build, sp *baleen.Spec, res *baleen.Result, stages *StageRunner) {
	want := sp.Deploy.Branch
	if want == "" {
		want = DefaultDeployBranch
	}
	if b.Branch != want {
		fmt.Fprintf(stages.Out(), "==> %s\nskipped: only green builds of %s deploy\n", baleen.StageDeploy, want)
		return
	}
	_, err := s.deploy(ctx, b, sp, res.Images, res.Pushed, "push by "+b.Pusher, stages)
	if err == nil {
		fmt.Fprintln(stages.Out(), "DEPLOYED")
		return
	}
	dr := stages.Result(ctx, err)
	res.Status, res.FailedStage, res.Message = dr.Status, baleen.StageDeploy, dr.Message
	fmt.Fprintf(stages.Out(), "FAILED: %s: %s\n", baleen.StageDeploy, dr.Message)
}
