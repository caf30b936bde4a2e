package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/baleen-ci/baleen"
)

// gitZeroID is git's id of "no commit": the old value of a ref update that creates the ref.
const gitZeroID = "0000000000000000000000000000000000000000"

// releaseGate is the check a push's build makes just before its release stages: the branch must still hold
// old, the value the push expects to swap. It returns nil (no check) when old is empty. A branch that moved
// ends the build cancelled at the tag stage, with a line that says so: nothing is tagged latest, pushed or
// deployed for a commit the branch no longer leads to.
func (s *Scheduler) releaseGate(b baleen.Build, old string, stages *StageRunner) func(context.Context) error {
	if old == "" || b.Branch == "" {
		return nil
	}
	return func(ctx context.Context) error {
		cur, err := s.cfg.Repos.Resolve(ctx, b.Project, "refs/heads/"+b.Branch)
		switch {
		case errors.Is(err, baleen.ErrNotFound):
			cur = gitZeroID
		case err != nil:
			msg := fmt.Sprintf("cannot read branch %s before releasing: %v", b.Branch, err)
			stages.Record(baleen.StageResult{Stage: baleen.StageTag, Status: baleen.StatusFailed, Message: msg})
			fmt.Fprintf(stages.Out(), "==> %s\n--> %s failed: %s\n", baleen.StageTag, baleen.StageTag, msg)
			return &StageError{Stage: baleen.StageTag, Status: baleen.StatusFailed, Message: msg, Err: err}
		}
		if strings.EqualFold(cur, old) {
			return nil
		}
		msg := fmt.Sprintf("%s moved to %s while this build waited; not releasing", b.Branch, movedTo(cur))
		s.log.Warn("not releasing: branch moved", "project", b.Project, "build", b.Number, "commit", b.Commit, "old", old, "now", cur)
		fmt.Fprintf(stages.Out(), "==> %s\n%s\n", baleen.StageTag, msg)
		stages.Record(baleen.StageResult{Stage: baleen.StageTag, Status: baleen.StatusCancelled, Message: msg})
		return &StageError{Stage: baleen.StageTag, Status: baleen.StatusCancelled, Message: msg}
	}
}

// movedTo names where a branch is now: its short commit, or "nothing" when it was deleted.
func movedTo(commit string) string {
	if commit == gitZeroID {
		return "nothing (deleted)"
	}
	return short(commit)
}

// Settle ends the hold of a build run with Request.HoldImages, once its push has moved (or failed to move)
// its branch, and prunes the project's images. Call it once per such build.
func (s *Scheduler) Settle(ctx context.Context, project string, number int) {
	s.holds.Release((&baleen.Build{Project: project, Number: number}).ID(s.cfg.Instance))
	s.prune(ctx, project)
}

// prune removes the images of project that retention no longer keeps, logging what fails.
func (s *Scheduler) prune(ctx context.Context, project string) {
	if err := s.pruner.Prune(ctx, project); err != nil {
		s.log.Warn("prune images", "project", project, "err", err)
	}
}

// RefMoves keeps the ref moves of pushes' green builds until they are done (store.Store has it). When the
// scheduler's Builds has it, a push's build records its ref move just before it is recorded passed, so that
// a server stopped between the verdict and the ref move completes the move at its next start.
type RefMoves interface {
	AddRefMove(ctx context.Context, project string, number int, ref, old, new string) error
}

// recordRefMove records, before a push's build is recorded passed, the move of its branch from req.Old to
// its commit. Builds that are not a push's, or not green, record nothing.
func (s *Scheduler) recordRefMove(ctx context.Context, b baleen.Build, req Request, res baleen.Result) {
	rm, ok := s.cfg.Builds.(RefMoves)
	if !ok || !req.HoldImages || req.Old == "" || b.Branch == "" || res.Status != baleen.StatusPassed {
		return
	}
	if err := rm.AddRefMove(ctx, b.Project, b.Number, "refs/heads/"+b.Branch, req.Old, b.Commit); err != nil {
		s.log.Error("record ref move", "project", b.Project, "build", b.Number, "commit", b.Commit, "err", err)
	}
}
