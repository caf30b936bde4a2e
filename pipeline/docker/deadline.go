package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// errNoAnswer is the cause recorded when an engine let a call's deadline pass.
var errNoAnswer = errors.New("no answer")

// call runs f, one engine call that answers at once, under the Engine's call deadline. When the deadline
// passes while ctx is still live, the engine is taken as stopped and the error wraps baleen.ErrUnavailable
// ("engine NAME stopped answering"); other errors come back as f returned them.
func call[T any](ctx context.Context, e *Engine, f func(context.Context) (T, error)) (T, error) {
	cctx, cancel := e.callContext(ctx)
	defer cancel()
	v, err := f(cctx)
	return v, e.callError(cctx, err)
}

// callContext returns ctx bounded by the call deadline, whose expiry is recorded as errNoAnswer.
func (e *Engine) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, e.callTimeout, fmt.Errorf("%w within %s", errNoAnswer, e.callTimeout))
}

// callError turns err, returned by a call made under cctx (from callContext or watch), into a stopped
// engine when cctx ended for want of an answer while its parent lives on; other errors are left as they are.
func (e *Engine) callError(cctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	cause := context.Cause(cctx)
	if cause != nil && errors.Is(cause, errNoAnswer) {
		var stopped *unavailableError
		if errors.As(cause, &stopped) {
			return stopped
		}
		return &unavailableError{host: e.client.DaemonHost(), name: e.name, err: cause}
	}
	return e.probe(cctx, err)
}

// probe asks whether the engine still answers after a call failed in a way the engine did not explain
// (a stream cut short, a connection reset): an engine that died mid-call gives an unavailableError
// rather than its broken stream. Errors the engine itself reported are left as they are.
func (e *Engine) probe(ctx context.Context, err error) error {
	var se *streamError
	switch {
	case ctx.Err() != nil, errors.As(err, &se), isConnectionFailure(err),
		cerrdefs.IsNotFound(err), cerrdefs.IsConflict(err), cerrdefs.IsInvalidArgument(err),
		cerrdefs.IsUnauthorized(err), cerrdefs.IsPermissionDenied(err), cerrdefs.IsNotImplemented(err):
		return err
	}
	if down := e.alive(ctx); down != nil {
		return down
	}
	return err
}

// watch returns a context for a long engine call (a build, a container's output, a wait) that is
// cancelled, with an unavailableError as its cause, when the engine stops answering: every watch interval
// it is pinged, and a ping that gets no answer within the call deadline ends the call. stop ends the
// watch (it may be called more than once); callError turns the call's error into the engine's.
func (e *Engine) watch(ctx context.Context) (context.Context, context.CancelFunc) {
	wctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(e.watchInterval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-wctx.Done():
				return
			case <-tick.C:
			}
			if err := e.alive(wctx); err != nil {
				cancel(err)
				return
			}
		}
	}()
	var once sync.Once
	return wctx, func() {
		once.Do(func() {
			close(done)
			cancel(context.Canceled)
		})
	}
}

// alive pings the engine under the call deadline; it returns an unavailableError, wrapping errNoAnswer,
// when the engine does not answer or cannot be reached, and nil otherwise: when it answers, even with an
// error status, and when ctx ended.
func (e *Engine) alive(ctx context.Context) error {
	pctx, cancel := e.callContext(ctx)
	defer cancel()
	_, err := e.client.Ping(pctx, client.PingOptions{})
	if err == nil || ctx.Err() != nil {
		return nil
	}
	if cause := context.Cause(pctx); cause != nil && errors.Is(cause, errNoAnswer) {
		err = cause
	} else if noResponse(err) {
		err = fmt.Errorf("%w: %v", errNoAnswer, err)
	} else {
		return nil
	}
	return &unavailableError{host: e.client.DaemonHost(), name: e.name, err: err}
}

// noResponse reports whether err says that no HTTP response came: the connection failed, was reset or
// cut short.
func noResponse(err error) bool {
	var netErr net.Error
	return isConnectionFailure(err) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.As(err, &netErr)
}

// watchedReader is a stream read under a watch, which ends when the stream is closed.
type watchedReader struct {
	io.ReadCloser
	stop context.CancelFunc
}

// Close closes the stream and ends its watch.
func (r *watchedReader) Close() error {
	err := r.ReadCloser.Close()
	r.stop()
	return err
}
