package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baleen-ci/baleen"
)

// Teardowns records the builds whose Docker objects are still to be removed, so that a teardown a fault or
// a restart cut short is retried; store.Store implements it.
type Teardowns interface {
	// AddTeardown records that build id's objects on engine (empty: the only one) are to be removed.
	AddTeardown(ctx context.Context, id baleen.BuildID, engine string) error
	// DoneTeardown forgets id once nothing labelled with it is left.
	DoneTeardown(ctx context.Context, id baleen.BuildID) error
	// PendingTeardowns returns the engine of each build whose teardown is not confirmed.
	PendingTeardowns(ctx context.Context) (map[baleen.BuildID]string, error)
}

// SweepInterval is how often the scheduler retries the teardowns that could not finish.
const SweepInterval = 2 * time.Minute

// sweeper retries the teardowns of a scheduler. Builds still running are left to their own teardown.
type sweeper struct {
	running sync.Map       // baleen.BuildID -> struct{}: builds whose own teardown has not ended
	busy    sync.Mutex     // held by the retry that runs
	again   atomic.Bool    // a retry was asked for since the running one began
	wg      sync.WaitGroup // detached teardowns and sweeps
}

// begin records that build id is about to make Docker objects: its teardown is pending until confirmed.
func (s *Scheduler) beginTeardown(ctx context.Context, id baleen.BuildID, engine string) {
	s.sweep.running.Store(id, struct{}{})
	if s.cfg.Teardowns == nil {
		return
	}
	if err := s.cfg.Teardowns.AddTeardown(context.WithoutCancel(ctx), id, engine); err != nil {
		s.log.Error("record pending teardown", "build", string(id), "err", err)
	}
}

// cleanupOn is the Cleanup of a scheduled build: its teardown runs with a context of its own, detached from
// the build, which waits for it unless the build was stopped (cancelled or shut down), so that a stuck
// engine call never holds the project's queue. A teardown that fails stays pending and is retried.
func (s *Scheduler) cleanupOn(engine string) func(ctx context.Context, id baleen.BuildID) error {
	return func(ctx context.Context, id baleen.BuildID) error {
		done := make(chan error, 1)
		s.sweep.wg.Add(1)
		go func() {
			defer s.sweep.wg.Done()
			defer s.sweep.running.Delete(id)
			done <- s.teardown(id, engine)
		}()
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			return nil
		}
	}
}

// teardown removes build id's objects from engine (the configured pipeline's when empty or without a
// pool) and, once the engine confirms it, forgets the pending teardown. It has TeardownTimeout of its own,
// whatever happens to the build or the server (Shutdown waits for it): what it could not remove stays
// pending for the next retry or start.
func (s *Scheduler) teardown(id baleen.BuildID, engine string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.base), TeardownTimeout)
	defer cancel()
	pl := s.cfg.Pipeline
	if engine != "" && s.cfg.Engines != nil {
		e, ok := s.cfg.Engines.Engine(engine)
		if !ok {
			return fmt.Errorf("engine %s is no longer configured", engine)
		}
		pl = New(e, s.log)
	}
	if err := pl.Teardown(ctx, id); err != nil {
		s.log.Warn("teardown incomplete, to be retried", "build", string(id), "err", err)
		return err
	}
	if s.cfg.Teardowns != nil {
		if err := s.cfg.Teardowns.DoneTeardown(ctx, id); err != nil {
			s.log.Error("forget pending teardown", "build", string(id), "err", err)
		}
	}
	return nil
}

// RetryTeardowns retries every pending teardown of a build that is not running, and returns the errors of
// those that are still not done. It runs after each build, every SweepInterval and at start-up; one
// retry at a time.
func (s *Scheduler) RetryTeardowns(ctx context.Context) error {
	if s.cfg.Teardowns == nil {
		return nil
	}
	s.sweep.busy.Lock()
	defer s.sweep.busy.Unlock()
	return s.retryTeardowns(ctx)
}

// retryTeardowns is RetryTeardowns with s.sweep.busy held.
func (s *Scheduler) retryTeardowns(ctx context.Context) error {
	if s.cfg.Teardowns == nil {
		return nil
	}
	pending, err := s.cfg.Teardowns.PendingTeardowns(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for id, engine := range pending {
		if _, running := s.sweep.running.Load(id); running {
			continue
		}
		if err := s.teardown(id, engine); err != nil {
			errs = append(errs, fmt.Errorf("clean up %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// retryLater runs RetryTeardowns in the background. When a retry is running already, that one goes round
// once more rather than another starting beside it: a stuck engine must not pile up retries.
func (s *Scheduler) retryLater() {
	s.sweep.again.Store(true)
	if !s.sweep.busy.TryLock() {
		return
	}
	s.sweep.wg.Add(1)
	go func() {
		defer s.sweep.wg.Done()
		for {
			for s.sweep.again.Swap(false) {
				if err := s.retryTeardowns(s.base); err != nil {
					s.log.Warn("retry teardowns", "err", err)
				}
			}
			s.sweep.busy.Unlock()
			if !s.sweep.again.Load() || !s.sweep.busy.TryLock() {
				return
			}
		}
	}()
}

// RecoverWait is how long Recover waits for the pending teardowns before it lets the server start.
const RecoverWait = 30 * time.Second

// retryWait retries the pending teardowns in the background and waits for the retry to end, for at most
// limit or until ctx ends.
func (s *Scheduler) retryWait(ctx context.Context, limit time.Duration) {
	done := make(chan struct{})
	s.sweep.wg.Add(1)
	go func() {
		defer s.sweep.wg.Done()
		defer close(done)
		if err := s.RetryTeardowns(context.WithoutCancel(ctx)); err != nil {
			s.log.Warn("teardowns left to retry", "err", err)
		}
	}()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}
}

// sweepEvery retries the pending teardowns every interval until the scheduler shuts down.
func (s *Scheduler) sweepEvery(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.base.Done():
			return
		case <-t.C:
			s.retryLater()
		}
	}
}

// Finished reports whether the Docker objects of build id may be swept: id is one of this server's builds
// (its instance ends it) and that build is not running here. A pool sweeps an engine that comes back with
// it (pool.Options.Finished).
func (s *Scheduler) Finished(id baleen.BuildID) bool {
	if !strings.HasSuffix(string(id), "-"+s.cfg.Instance) {
		return false
	}
	_, running := s.sweep.running.Load(id)
	return !running
}
