package gitd

import (
	"context"
	"io"
	"sync"
)

// maxBacklog bounds the output kept for a client that reads it slower than it is written.
const maxBacklog = 8 << 20

// progress is the io.Writer a Receiver writes to. Writes never block on the network and never fail: a
// pump goroutine copies what was written to the hook's standard error (which receive-pack relays to the
// pusher as `remote:` lines) as soon as it is written. Once the client is gone, output is discarded.
type progress struct {
	out io.Writer
	// gone is called once, with the reason, when the client stops taking output.
	gone func(reason string)

	mu      sync.Mutex
	backlog []byte
	lost    bool // the client is gone: discard
	dropped bool // output was dropped for a slow client

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

// startProgress starts the pump. It watches clientCtx, which ends when the client disconnects. stopAndFlush
// must be called to end it.
func startProgress(clientCtx context.Context, out io.Writer, gone func(string)) *progress {
	p := &progress{out: out, gone: gone, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go p.run(clientCtx)
	return p
}

// Write queues b for the client. It always reports success.
func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	switch {
	case p.lost:
	case len(p.backlog)+len(b) > maxBacklog:
		if !p.dropped {
			p.dropped = true
			p.backlog = append(p.backlog, "\n[baleen: output dropped: this connection is too slow to keep up]\n"...)
		}
	default:
		p.backlog = append(p.backlog, b...)
	}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return len(b), nil
}

func (p *progress) run(clientCtx context.Context) {
	defer close(p.done)
	clientDone := clientCtx.Done()
	for {
		select {
		case <-p.wake:
			p.send()
		case <-clientDone:
			clientDone = nil
			p.lose("client disconnected")
		case <-p.stop:
			p.send()
			return
		}
	}
}

// send writes out the backlog.
func (p *progress) send() {
	p.mu.Lock()
	b := p.backlog
	p.backlog = nil
	lost := p.lost
	p.mu.Unlock()
	if lost || len(b) == 0 {
		return
	}
	if _, err := p.out.Write(b); err != nil {
		p.lose(err.Error())
	}
}

func (p *progress) lose(reason string) {
	p.mu.Lock()
	already := p.lost
	p.lost, p.backlog = true, nil
	p.mu.Unlock()
	if !already && p.gone != nil {
		p.gone(reason)
	}
}

// stopAndFlush sends what is left and ends the pump. It reports whether the client is still there.
func (p *progress) stopAndFlush() bool {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.lost
}
