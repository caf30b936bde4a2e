package gitd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/baleen-ci/baleen"
)

// maxPktPayload is the largest payload of one pkt-line (65520 bytes, less the four-byte length).
const maxPktPayload = 65516

// pktReader reads git pkt-lines from r, never reading past the end of the line it returns, so that the
// packfile that follows the commands can be read from r afterwards.
type pktReader struct {
	r   io.Reader
	buf []byte
}

func newPktReader(r io.Reader) *pktReader {
	return &pktReader{r: r, buf: make([]byte, maxPktPayload)}
}

// next returns the next line's payload, or flush=true for a flush-pkt. The payload is valid until the next
// call. io.EOF means the client closed the stream between lines.
func (p *pktReader) next() (line []byte, flush bool, err error) {
	var hdr [4]byte
	if _, err := io.ReadFull(p.r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, false, fmt.Errorf("pkt-line header cut short: %w", baleen.ErrInvalid)
		}
		return nil, false, err
	}
	n, err := strconv.ParseUint(string(hdr[:]), 16, 16)
	if err != nil {
		return nil, false, fmt.Errorf("pkt-line length %q: %w", hdr[:], baleen.ErrInvalid)
	}
	switch {
	case n == 0:
		return nil, true, nil
	case n < 4:
		return nil, false, fmt.Errorf("pkt-line length %d is not supported: %w", n, baleen.ErrInvalid)
	case n-4 > maxPktPayload:
		return nil, false, fmt.Errorf("pkt-line length %d too long: %w", n, baleen.ErrInvalid)
	}
	line = p.buf[:n-4]
	if _, err := io.ReadFull(p.r, line); err != nil {
		return nil, false, fmt.Errorf("pkt-line cut short: %w", err)
	}
	return line, false, nil
}

// appendPkt appends payload to b as one pkt-line. payload must not exceed maxPktPayload.
func appendPkt(b []byte, payload ...[]byte) []byte {
	n := 4
	for _, p := range payload {
		n += len(p)
	}
	b = fmt.Appendf(b, "%04x", n)
	for _, p := range payload {
		b = append(b, p...)
	}
	return b
}

// flushPkt is the flush-pkt that ends a section.
var flushPkt = []byte("0000")

// The side-band channels.
const (
	bandData     byte = 1
	bandProgress byte = 2
	bandError    byte = 3
)

// bandWriter writes to a git client, multiplexed over side-band(-64k) packets when the client asked for
// them. It is safe for concurrent use.
type bandWriter struct {
	mu  sync.Mutex
	w   io.Writer
	max int // payload bytes per packet, 0 when there is no side band
}

// newBandWriter returns a writer for a client that asked for side-band-64k, side-band, or neither.
func newBandWriter(w io.Writer, sideband64k, sideband bool) *bandWriter {
	b := &bandWriter{w: w}
	switch {
	case sideband64k:
		b.max = maxPktPayload - 1
	case sideband:
		b.max = 1000 - 5
	}
	return b
}

// muxed reports whether the side band is in use.
func (b *bandWriter) muxed() bool { return b.max > 0 }

// send writes p on band. Without a side band, data goes out as it is and progress is dropped.
func (b *bandWriter) send(band byte, p []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.muxed() {
		if band == bandData {
			_, err := b.w.Write(p)
			return err
		}
		return nil
	}
	buf := make([]byte, 0, min(len(p), b.max)+5)
	for len(p) > 0 {
		n := min(len(p), b.max)
		buf = appendPkt(buf[:0], []byte{band}, p[:n])
		if _, err := b.w.Write(buf); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// keepalive sends an empty progress packet, which git shows as nothing but which keeps the connection busy.
func (b *bandWriter) keepalive() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.muxed() {
		return nil
	}
	_, err := b.w.Write([]byte("0005\x02"))
	return err
}

// flush ends the multiplexed stream.
func (b *bandWriter) flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.muxed() {
		return nil
	}
	_, err := b.w.Write(flushPkt)
	return err
}

// bandWriterFunc adapts one band of a bandWriter to an io.Writer.
type bandWriterFunc func(p []byte) error

func (f bandWriterFunc) Write(p []byte) (int, error) {
	if err := f(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// maxBacklog bounds the output kept for a client that reads it slower than it is written.
const maxBacklog = 8 << 20

// progress is the io.Writer a Receiver writes to. Writes never block on the network and never fail: a
// pump goroutine sends what was written as side-band progress, as soon as it is written, and sends a
// keepalive when nothing was sent for a while. Once the client is gone, output is discarded.
type progress struct {
	out       *bandWriter
	keepalive time.Duration
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
func startProgress(clientCtx context.Context, out *bandWriter, keepalive time.Duration, gone func(string)) *progress {
	p := &progress{
		out: out, keepalive: keepalive, gone: gone,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
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
	timer := time.NewTimer(p.keepalive)
	defer timer.Stop()
	clientDone := clientCtx.Done()
	for {
		select {
		case <-p.wake:
			p.send()
		case <-timer.C:
			if err := p.out.keepalive(); err != nil {
				p.lose("keepalive: " + err.Error())
			}
		case <-clientDone:
			clientDone = nil
			p.lose("client disconnected")
			continue
		case <-p.stop:
			p.send()
			return
		}
		timer.Reset(p.keepalive)
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
	if err := p.out.send(bandProgress, b); err != nil {
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
