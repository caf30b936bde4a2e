package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/baleen-ci/baleen"
)

// errShutdown is the cause of builds the server stopped; they end interrupted, not cancelled.
var errShutdown = errors.New("server shutting down")

// errCancelled is the cause of builds a person cancelled.
var errCancelled = errors.New("cancelled")

// Stopped is the status and message of work that ctx stopped before its end: interrupted when the server
// shut down (the cause of ctx), cancelled otherwise.
func Stopped(ctx context.Context) (baleen.Status, string) {
	if errors.Is(context.Cause(ctx), errShutdown) {
		return baleen.StatusInterrupted, "interrupted: the server shut down"
	}
	return baleen.StatusCancelled, "cancelled"
}

// StageRunner runs the stages of one build, from config to deploy, on the server and in `baleen build`
// alike. It owns what every stage shares: the header and the result line with its duration, the masking of
// secrets in the output and in the messages kept, how a stopped context becomes a status, the list of stage
// results, and the stage events. Its methods are safe for concurrent use, but stages run one after another.
type StageRunner struct {
	out  *Masker
	done func(baleen.StageResult)
	pub  baleen.EventPublisher
	ev   baleen.Event // the project and build every event carries

	mu     sync.Mutex
	stages []baleen.StageResult
	failed baleen.Stage
}

// StageConfig wires a StageRunner.
type StageConfig struct {
	// Out receives the build's output; Secrets are masked before it sees them.
	Out     io.Writer
	Secrets []string
	// Done, when set, is called with the stages so far each time a stage ends: the stage record.
	Done func(baleen.StageResult)
	// Events, when set, receives stage_started, stage_finished and test_summary for Project's build Build.
	Events  baleen.EventPublisher
	Project string
	Build   int
}

// NewStageRunner returns a StageRunner; Close it when the build ends to flush the masked output.
func NewStageRunner(c StageConfig) *StageRunner {
	out := c.Out
	if out == nil {
		out = io.Discard
	}
	return &StageRunner{out: NewMasker(out, c.Secrets), done: c.Done, pub: c.Events,
		ev: baleen.Event{Project: c.Project, Build: c.Build}}
}

// Out is the build's output, masked.
func (r *StageRunner) Out() io.Writer { return r.out }

// Mask masks the secrets in s, for what is kept apart from the output.
func (r *StageRunner) Mask(s string) string { return r.out.String(s) }

// Masker is the masker of the build's output: its String and To mask what is kept apart from the output
// (report fields, artifact names and contents).
func (r *StageRunner) Masker() *Masker { return r.out }

// Close flushes what the masker holds back.
func (r *StageRunner) Close() error { return r.out.Close() }

// Stages returns the results of the stages run so far.
func (r *StageRunner) Stages() []baleen.StageResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]baleen.StageResult(nil), r.stages...)
}

// Failed is the first stage that did not pass; empty when none failed.
func (r *StageRunner) Failed() baleen.Stage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// Publish sends e with the build's project and number.
func (r *StageRunner) Publish(e baleen.Event) {
	if r.pub == nil {
		return
	}
	e.Project, e.Build = r.ev.Project, r.ev.Build
	r.pub.Publish(e)
}

// Run runs fn as stage s and returns its error: nil when it passed, a *StageError otherwise.
func (r *StageRunner) Run(ctx context.Context, s baleen.Stage, fn func(context.Context) error) error {
	return r.RunNoted(ctx, s, func(ctx context.Context) (string, error) { return "", fn(ctx) })
}

// RunNoted is Run for a stage whose result line says more than that it passed: fn returns the note.
func (r *StageRunner) RunNoted(ctx context.Context, s baleen.Stage, fn func(context.Context) (string, error)) error {
	fmt.Fprintf(r.out, "==> %s\n", s)
	r.Publish(baleen.Event{Kind: baleen.EventStageStarted, Stage: s})
	start := time.Now()
	note, err := fn(ctx)
	sr := baleen.StageResult{Stage: s, Status: baleen.StatusPassed, Duration: time.Since(start)}
	switch {
	case err == nil && note != "":
		fmt.Fprintf(r.out, "--> %s passed in %s: %s\n", s, round(sr.Duration), note)
	case err == nil:
		fmt.Fprintf(r.out, "--> %s passed in %s\n", s, round(sr.Duration))
	case ctx.Err() != nil && !errors.Is(err, baleen.ErrUnavailable):
		sr.Status, sr.Message = Stopped(ctx)
		err = &StageError{Stage: s, Status: sr.Status, Message: sr.Message}
		fmt.Fprintf(r.out, "--> %s %s after %s\n", s, sr.Status, round(sr.Duration))
	default:
		sr.Status, sr.Message = baleen.StatusFailed, r.Mask(reason(err))
		fmt.Fprintf(r.out, "--> %s failed in %s: %s\n", s, round(sr.Duration), sr.Message)
		err = &StageError{Stage: s, Status: sr.Status, Message: sr.Message, Err: err}
	}
	r.Record(sr)
	return err
}

// Record adds the result of a stage that was decided without running (a skipped or refused stage).
func (r *StageRunner) Record(sr baleen.StageResult) {
	r.mu.Lock()
	r.stages = append(r.stages, sr)
	if sr.Status != baleen.StatusPassed && r.failed == "" {
		r.failed = sr.Stage
	}
	r.mu.Unlock()
	r.Publish(baleen.Event{Kind: baleen.EventStageFinished, Stage: sr.Stage, Status: sr.Status, Duration: sr.Duration, Text: sr.Message})
	if r.done != nil {
		r.done(sr)
	}
}

// Retry starts a new attempt of the build (a retry on another engine): the stages that follow decide its
// failed stage, the failure so far does not. The stages run so far stay in the record.
func (r *StageRunner) Retry() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = ""
}

// Result is the build's result after err (the error of the last stage run, or nil): passed, or failed,
// cancelled or interrupted at the first stage that did not pass, with its masked message.
func (r *StageRunner) Result(ctx context.Context, err error) baleen.Result {
	res := baleen.Result{Status: baleen.StatusPassed, Stages: r.Stages()}
	if err == nil {
		return res
	}
	res.Status, res.Message, res.FailedStage = baleen.StatusFailed, r.Mask(reason(err)), r.Failed()
	var se *StageError
	if errors.As(err, &se) {
		res.Status, res.Message = se.Status, se.Message
		if res.FailedStage == "" {
			res.FailedStage = se.Stage
		}
	}
	if ctx.Err() != nil && !errors.Is(err, baleen.ErrUnavailable) {
		res.Status, res.Message = Stopped(ctx)
	}
	return res
}

// reason is the message kept for err: marked baleen.InfrastructureReason when the infrastructure failed
// (err wraps baleen.ErrUnavailable), so that nobody takes an engine that stopped answering for a red test.
func reason(err error) string {
	msg := err.Error()
	if errors.Is(err, baleen.ErrUnavailable) && !strings.HasPrefix(msg, baleen.InfrastructureReason) {
		return baleen.InfrastructureReason + msg
	}
	return msg
}

// StageError is a stage that did not pass for a reason of the build's own (a failing Dockerfile, a red
// test, a cancellation): a verdict, not an error of the pipeline. Err is the cause, when there is one.
type StageError struct {
	Stage   baleen.Stage
	Status  baleen.Status
	Message string
	Err     error
}

func (e *StageError) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *StageError) Unwrap() error { return e.Err }

// round shortens a duration for people: 1.2s, 3m4s.
func round(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}
