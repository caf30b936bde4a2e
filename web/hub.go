package web

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baleen-ci/baleen"
)

// flushEvery is how long a live build's lines gather before they go out together: each viewer gets one
// write per interval however fast the build prints, and every line is rendered once for all of them. A
// write costs each viewer a few system calls and wake-ups whatever its size: with 100 viewers of a real
// build, the server spent about 250 ms of CPU more than unwatched at 100 ms and about 150 ms at 250 ms,
// which a reader does not see as slower.
const flushEvery = 250 * time.Millisecond

// maxFrame is the most encoded bytes one frame of lines holds; a burst beyond it goes out at once.
const maxFrame = 256 << 10

// viewerFrames is how many frames a viewer may fall behind before it is dropped from the hub; it then
// resyncs from the stored log and joins again. A slow browser never holds the build or the other viewers.
const viewerFrames = 64

type frameKind uint8

const (
	// frameLines holds the log's bytes start to end as one "lines" event.
	frameLines frameKind = iota
	// frameState is a "state" event.
	frameState
	// frameDone is the "done" event: the build has ended.
	frameDone
	// frameSync asks each viewer to read what the store holds beyond what it has sent: the hub does not
	// know where the log stands (it missed events, or the build publishes none).
	frameSync
)

// liveFrame is one encoded server-sent event that every viewer of a build is sent as is.
type liveFrame struct {
	kind       frameKind
	start, end int64
	data       []byte
}

type hubKey struct {
	project string
	number  int
}

// hubs holds a hub per running build that someone watches. Its methods are safe for concurrent use.
type hubs struct {
	s  *Server
	mu sync.Mutex
	m  map[hubKey]*hub
}

// hub follows one build's events once for all its viewers: it renders each log line once, gathers lines
// for flushEvery, and hands the same encoded frame to every viewer without waiting for any.
type hub struct {
	hs     *hubs
	key    hubKey
	cancel context.CancelFunc

	mu      sync.Mutex
	viewers map[*viewer]struct{}

	// Owned by the run goroutine: off is where the next line starts (-1 while unknown), batch the lines
	// not yet sent, state the last state sent, quiet whether no event came since the last poll.
	off   int64
	batch lineBatch
	state string
	quiet bool
}

// viewer is one browser's place in a hub: the frames it has yet to send.
type viewer struct {
	ch chan *liveFrame
	// lagged says the hub dropped the viewer because it fell viewerFrames behind.
	lagged atomic.Bool
}

// join adds a viewer to the hub of a build, starting the hub when nobody watched it.
func (hs *hubs) join(project string, number int) (*hub, *viewer) {
	k := hubKey{project, number}
	v := &viewer{ch: make(chan *liveFrame, viewerFrames)}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	h := hs.m[k]
	if h == nil {
		ctx, cancel := context.WithCancel(hs.s.base)
		h = &hub{hs: hs, key: k, cancel: cancel, viewers: map[*viewer]struct{}{}, off: -1}
		hs.m[k] = h
		go h.run(ctx)
	}
	h.mu.Lock()
	h.viewers[v] = struct{}{}
	h.mu.Unlock()
	return h, v
}

// leave removes a viewer; the hub stops when nobody is left.
func (hs *hubs) leave(h *hub, v *viewer) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.viewers, v)
	if len(h.viewers) == 0 && hs.m[h.key] == h {
		delete(hs.m, h.key)
		h.cancel()
	}
}

// end takes the hub out and closes its viewers' frames.
func (h *hub) end() {
	h.cancel()
	h.hs.mu.Lock()
	defer h.hs.mu.Unlock()
	if h.hs.m[h.key] == h {
		delete(h.hs.m, h.key)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for v := range h.viewers {
		delete(h.viewers, v)
		close(v.ch)
	}
}

// publish hands fr to every viewer; one whose frames are full is dropped to resync on its own.
func (h *hub) publish(fr *liveFrame) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for v := range h.viewers {
		select {
		case v.ch <- fr:
		default:
			v.lagged.Store(true)
			delete(h.viewers, v)
			close(v.ch)
		}
	}
}

func (h *hub) run(ctx context.Context) {
	defer h.end()
	events := h.hs.s.cfg.Events.Subscribe(ctx, baleen.EventFilter{Project: h.key.project, Build: h.key.number})
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	poll := time.NewTicker(livePoll)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-events:
			if !ok {
				return
			}
			h.quiet = false
			if h.event(ctx, e) {
				return
			}
		case <-tick.C:
			h.flush()
		case <-poll.C:
			// A build started by a part that publishes no events still shows its progress.
			if h.quiet && h.refresh(ctx, true) {
				return
			}
			h.quiet = true
		}
	}
}

// event handles one build event; it reports whether the build has ended.
func (h *hub) event(ctx context.Context, e baleen.Event) bool {
	switch e.Kind {
	case baleen.EventLog:
		if h.off < 0 || e.Offset > h.off {
			// The first line, or lines whose events were lost: viewers fill a gap from the store.
			h.flush()
			h.off = e.Offset
		}
		if e.Offset == h.off {
			h.batch.add(e.Offset, e.Text)
			h.off += int64(len(e.Text)) + 1
			if h.batch.body.Len() >= maxFrame {
				h.flush()
			}
		}
	case baleen.EventLagged:
		return h.refresh(ctx, true)
	case baleen.EventStageStarted, baleen.EventStageFinished, baleen.EventBuildStarted, baleen.EventTestSummary, baleen.EventBuildFinished:
		return h.refresh(ctx, false)
	}
	return false
}

// flush sends the gathered lines.
func (h *hub) flush() {
	if fr := h.batch.frame(); fr != nil {
		h.publish(fr)
	}
}

// refresh sends the lines gathered and the build's state when it changed; with sync, the hub first reads
// the lines the store holds beyond what it has seen (it missed events, or the build publishes none). At the
// build's end it sends done and reports true.
func (h *hub) refresh(ctx context.Context, sync bool) bool {
	if sync {
		h.fromStore(ctx)
	}
	h.flush()
	b, err := h.hs.s.cfg.Builds.Build(ctx, h.key.project, h.key.number)
	if err != nil {
		if ctx.Err() == nil {
			h.hs.s.log.Error("live log", "project", h.key.project, "build", h.key.number, "err", err)
		}
		return false
	}
	if b.Status.Final() {
		h.publish(&liveFrame{kind: frameDone, data: stateEvent("done", b)})
		return true
	}
	if data := stateEvent("state", b); string(data) != h.state {
		h.state = string(data)
		h.publish(&liveFrame{kind: frameState, data: data})
	}
	return false
}

// fromStore reads the stored log's whole lines beyond h.off into the batch, once for every viewer. While
// the hub does not know where the log stands, it asks each viewer to read the store instead.
func (h *hub) fromStore(ctx context.Context) {
	if h.off < 0 {
		h.flush()
		h.publish(&liveFrame{kind: frameSync})
		return
	}
	err := readLines(ctx, h.hs.s.cfg.Builds, h.key.project, h.key.number, h.off, -1, func(off int64, text string) {
		h.batch.add(off, text)
		h.off = off + int64(len(text)) + 1
		if h.batch.body.Len() >= maxFrame {
			h.flush()
		}
	})
	if err != nil && ctx.Err() == nil {
		h.hs.s.log.Error("live log", "project", h.key.project, "build", h.key.number, "err", err)
	}
}
