package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/baleen-ci/baleen"
)

// buildOutput feeds a build's output to its stored log and publishes each complete line as an EventLog with
// its offset in the stored log; every live reader (the push, `logs -f`, the web) reads those events. Output
// reaches it masked.
type buildOutput struct {
	mu   sync.Mutex
	log  io.WriteCloser
	pub  baleen.EventPublisher
	b    baleen.Build
	off  int64  // bytes written to the log
	line []byte // the unfinished last line
}

func newBuildOutput(log io.WriteCloser, pub baleen.EventPublisher, b baleen.Build) *buildOutput {
	return &buildOutput{log: log, pub: pub, b: b}
}

func (o *buildOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, err := o.log.Write(p); err != nil {
		return 0, fmt.Errorf("write build log: %w", err)
	}
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			o.line = append(o.line, p...)
			o.off += int64(len(p))
			break
		}
		start := o.off - int64(len(o.line)) // where the line began
		o.line = append(o.line, p[:i]...)
		o.off += int64(i + 1)
		o.pub.Publish(baleen.Event{Kind: baleen.EventLog, Project: o.b.Project, Build: o.b.Number, Text: string(o.line), Offset: start})
		o.line = o.line[:0]
		p = p[i+1:]
	}
	return n, nil
}

// Close closes the stored log.
func (o *buildOutput) Close() error { return o.log.Close() }

// Follow writes a build's log to w from the start and, while the build runs, each line as it is written,
// until the build ends or ctx does. It returns the build's final record. It reads the events of the build;
// when it falls behind them, it reads what it missed from the stored log.
func (s *Scheduler) Follow(ctx context.Context, project string, number int, w io.Writer) (baleen.Build, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	evs := s.events.Subscribe(sctx, baleen.EventFilter{Project: project, Build: number, Kinds: []baleen.EventKind{baleen.EventLog}})
	ended := s.ended(project, number)
	f := &follower{s: s, project: project, number: number, w: w}
	b, err := s.cfg.Builds.Build(ctx, project, number)
	if err != nil {
		return b, err
	}
	if err := f.catchUp(ctx); err != nil || b.Status.Final() || ended == nil {
		// Not running here while recorded as unfinished: it was interrupted and Recover has not marked it
		// yet. Nothing more will be written.
		return b, err
	}
	for {
		select {
		case e, ok := <-evs:
			if !ok {
				return b, errors.Join(ctx.Err(), errors.New("event stream closed"))
			}
			if err := f.handle(ctx, e); err != nil {
				return b, err
			}
		case <-ended:
			return f.final(ctx)
		case <-ctx.Done():
			return b, ctx.Err()
		}
	}
}

// relay writes the output of build b to w, from its first line, as the build's log events tell it (and from
// the stored log when it falls behind them), in the background: the way a build's output reaches the one
// who started it live (a push's remote: lines, ssh rebuild, a dependency's output inside its dependent's),
// as `logs -f` and the web read it. Call it before the build writes anything; the returned stop, called
// once the build's log is closed, returns when w has everything the log holds. A w that fails is written
// no more; the build goes on.
func (s *Scheduler) relay(b baleen.Build, w io.Writer) (stop func()) {
	if w == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	evs := s.events.Subscribe(ctx, baleen.EventFilter{Project: b.Project, Build: b.Number, Kinds: []baleen.EventKind{baleen.EventLog}})
	f := &follower{s: s, project: b.Project, number: b.Number, w: w}
	ended, relayed := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(relayed)
		if err := f.relay(ctx, evs, ended); err != nil {
			s.log.Debug("build output not relayed", "project", b.Project, "build", b.Number, "err", err)
		}
	}()
	return func() {
		close(ended)
		<-relayed
		cancel()
	}
}

// relay writes the lines of evs until ended is closed, then those still buffered, then the rest of the
// stored log.
func (f *follower) relay(ctx context.Context, evs <-chan baleen.Event, ended <-chan struct{}) error {
	for {
		select {
		case e, ok := <-evs:
			if !ok { // the bus closed: the stored log has the rest
				<-ended
				return f.catchUp(ctx)
			}
			if err := f.handle(ctx, e); err != nil {
				return err
			}
		case <-ended:
			for {
				select {
				case e, ok := <-evs:
					if !ok {
						return f.catchUp(ctx)
					}
					if err := f.handle(ctx, e); err != nil {
						return err
					}
				default:
					return f.catchUp(ctx)
				}
			}
		}
	}
}

// follower is where one Follow stands in the stored log.
type follower struct {
	s       *Scheduler
	project string
	number  int
	w       io.Writer
	off     int64
}

// handle takes one event: a line to write, or word that lines were missed.
func (f *follower) handle(ctx context.Context, e baleen.Event) error {
	if e.Kind == baleen.EventLagged {
		return f.catchUp(ctx)
	}
	end := e.Offset + int64(len(e.Text)) + 1
	switch {
	case e.Kind != baleen.EventLog || end <= f.off: // read from the stored log already
	case e.Offset > f.off: // a gap: read it from the stored log
		return f.catchUp(ctx)
	default:
		if _, err := io.WriteString(f.w, e.Text[f.off-e.Offset:]+"\n"); err != nil {
			return err
		}
		f.off = end
	}
	return nil
}

// final copies the rest of the stored log and returns the build's final record.
func (f *follower) final(ctx context.Context) (baleen.Build, error) {
	err := f.catchUp(ctx)
	b, berr := f.s.cfg.Builds.Build(ctx, f.project, f.number)
	return b, errors.Join(err, berr)
}

// catchUp copies the stored log from where the follower stands.
func (f *follower) catchUp(ctx context.Context) error {
	rc, err := f.s.cfg.Builds.Log(ctx, f.project, f.number, f.off)
	if err != nil {
		return err
	}
	defer rc.Close()
	n, err := io.Copy(f.w, rc)
	f.off += n
	return err
}
