package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/baleen-ci/baleen"
)

// livePoll is how often a live stream looks at the store when no event arrives: builds started by a part
// that publishes no events still show their progress.
const livePoll = 2 * time.Second

// liveHeader is the first data line of a "lines" event: where its first line starts in the log, each
// line's length in the log with its newline (so line i+1 starts at line i's start plus its length: a
// length takes two or three digits where an offset into a long log takes seven or more, on every line to
// every viewer), and the stage that a line's header starts (by the line's index). The lines' HTML follows,
// one data line each.
type liveHeader struct {
	Start   int64          `json:"b"`
	Lengths []int          `json:"l"`
	Stages  map[int]string `json:"s,omitempty"`
}

// offsets is where each line of the event starts in the log.
func (h liveHeader) offsets() []int64 {
	out := make([]int64, len(h.Lengths))
	off := h.Start
	for i, n := range h.Lengths {
		out[i] = off
		off += int64(n)
	}
	return out
}

// liveState is the build's state as the live stream sends it.
type liveState struct {
	Status  baleen.Status `json:"status"`
	Message string        `json:"message,omitempty"`
	Stages  []stageJSON   `json:"stages"`
	Took    string        `json:"took"`
}

// lineBatch gathers log lines into one "lines" event; the zero value is an empty batch.
type lineBatch struct {
	start, end int64
	head       liveHeader
	body       bytes.Buffer
}

// add renders one line that starts at off.
func (lb *lineBatch) add(off int64, text string) {
	if len(lb.head.Lengths) == 0 {
		lb.start, lb.head.Start = off, off
	}
	if st, ok := stageHeader(text); ok {
		if lb.head.Stages == nil {
			lb.head.Stages = map[int]string{}
		}
		lb.head.Stages[len(lb.head.Lengths)] = st
	}
	lb.head.Lengths = append(lb.head.Lengths, len(text)+1)
	lb.body.WriteString("data: ")
	// A carriage return would end the data line: it travels as a character reference.
	lb.body.WriteString(strings.ReplaceAll(ansiHTML(text), "\r", "&#13;"))
	lb.body.WriteByte('\n')
	lb.end = off + int64(len(text)) + 1
}

// frame encodes the gathered lines as one event and empties the batch; nil when it holds none. The
// event's id is where its lines end, so that a browser that reconnects resumes there.
func (lb *lineBatch) frame() *liveFrame {
	if len(lb.head.Lengths) == 0 {
		return nil
	}
	head, _ := json.Marshal(lb.head) // numbers and strings
	var b bytes.Buffer
	b.Grow(lb.body.Len() + len(head) + 64)
	fmt.Fprintf(&b, "id: %d\nevent: lines\ndata: %s\n", lb.end, head)
	b.Write(lb.body.Bytes())
	b.WriteByte('\n')
	fr := &liveFrame{kind: frameLines, start: lb.start, end: lb.end, data: b.Bytes()}
	lb.head = liveHeader{}
	lb.body.Reset()
	return fr
}

// stateEvent encodes the build's state as an event named name.
func stateEvent(name string, b baleen.Build) []byte {
	data, _ := json.Marshal(liveState{Status: b.Status, Message: b.Message, Stages: stagesJSON(b.Stages), Took: took(b)})
	return fmt.Appendf(nil, "event: %s\ndata: %s\n\n", name, data)
}

// stream is one live stream of a build's log and state to a browser.
type stream struct {
	s       *Server
	w       http.ResponseWriter
	f       http.Flusher
	project string
	number  int
	off     int64
}

// live streams a build's log from ?offset= (or the Last-Event-ID) and its state as server-sent events:
// "lines" for a batch of log lines, "state" when the build or a stage changes, and "done" once the build
// has ended. Every viewer of a build shares one subscription and one rendering of each line (see hub).
func (s *Server) live(w http.ResponseWriter, r *http.Request) {
	c, err := s.who(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	b, err := s.buildFor(r, c)
	if err != nil {
		http.Error(w, err.Error(), statusOf(err))
		return
	}
	f, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	release, err := s.holdStream(r, c)
	if err != nil {
		http.Error(w, err.Error(), statusOf(err))
		return
	}
	defer release()
	st := &stream{s: s, w: w, f: f, project: b.Project, number: b.Number, off: resumeAt(r)}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := st.run(r.Context(), b); err != nil && r.Context().Err() == nil {
		s.log.Error("live log", "project", b.Project, "build", b.Number, "err", err)
	}
}

// resumeAt reads where the browser's log ends: the Last-Event-ID after a reconnect, else ?offset=.
func resumeAt(r *http.Request) int64 {
	off := r.URL.Query().Get("offset")
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		off, _, _ = strings.Cut(id, ":")
	}
	o, _ := strconv.ParseInt(off, 10, 64)
	return max(o, 0)
}

func (st *stream) run(ctx context.Context, b baleen.Build) error {
	if b.Status.Final() || st.s.cfg.Events == nil {
		return st.poll(ctx, b)
	}
	for {
		h, v := st.s.hubs.join(st.project, st.number)
		end, err := st.follow(ctx, v)
		st.s.hubs.leave(h, v)
		if end || err != nil || !v.lagged.Load() {
			return err
		}
	}
}

// poll serves a finished build, or a running one on a server without events: the store, read every
// livePoll until the build ends.
func (st *stream) poll(ctx context.Context, b baleen.Build) error {
	for {
		if err := st.catchUp(ctx, -1); err != nil {
			return err
		}
		if b.Status.Final() {
			st.write(stateEvent("done", b))
			return nil
		}
		st.write(stateEvent("state", b))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(livePoll):
		}
		var err error
		if b, err = st.s.cfg.Builds.Build(ctx, st.project, st.number); err != nil {
			return err
		}
	}
}

// follow sends what the store holds, then the hub's frames, until the build ends (end), the browser goes,
// or the hub drops the viewer (it then joins again).
func (st *stream) follow(ctx context.Context, v *viewer) (end bool, err error) {
	if err := st.catchUp(ctx, -1); err != nil {
		return true, err
	}
	b, err := st.s.cfg.Builds.Build(ctx, st.project, st.number)
	if err != nil {
		return true, err
	}
	if b.Status.Final() {
		return true, st.poll(ctx, b)
	}
	st.write(stateEvent("state", b))
	for {
		select {
		case <-ctx.Done():
			return true, nil
		case fr, ok := <-v.ch:
			if !ok {
				if v.lagged.Load() {
					return false, nil
				}
				return true, st.ended(ctx) // the hub stopped: the server is closing, or the build ended
			}
			if end, err := st.frame(ctx, fr); end || err != nil {
				return true, err
			}
		}
	}
}

// ended sends done when the build has ended; a stream that ends without it is one the browser reconnects.
func (st *stream) ended(ctx context.Context) error {
	b, err := st.s.cfg.Builds.Build(ctx, st.project, st.number)
	if err != nil || !b.Status.Final() {
		return err
	}
	return st.poll(ctx, b)
}

// frame sends one frame of the hub, or what the store holds when the frame does not start where this
// browser's log ends; it reports whether the build has ended.
func (st *stream) frame(ctx context.Context, fr *liveFrame) (bool, error) {
	switch fr.kind {
	case frameLines:
		switch {
		case fr.end <= st.off:
		case fr.start == st.off:
			_, _ = st.w.Write(fr.data)
			st.off = fr.end
		default:
			if err := st.catchUp(ctx, fr.end); err != nil {
				return true, err
			}
		}
	case frameSync:
		return false, st.catchUp(ctx, -1)
	case frameState:
		_, _ = st.w.Write(fr.data)
	case frameDone:
		if err := st.catchUp(ctx, -1); err != nil {
			return true, err
		}
		st.write(fr.data)
		return true, nil
	}
	st.f.Flush()
	return false, nil
}

// catchUp sends the stored log's whole lines from st.off up to offset upTo (to the end when upTo < 0).
func (st *stream) catchUp(ctx context.Context, upTo int64) error {
	if upTo >= 0 && upTo <= st.off {
		return nil
	}
	var lb lineBatch
	err := readLines(ctx, st.s.cfg.Builds, st.project, st.number, st.off, upTo, func(off int64, text string) {
		lb.add(off, text)
		st.off = off + int64(len(text)) + 1
		if lb.body.Len() >= maxFrame {
			_, _ = st.w.Write(lb.frame().data)
		}
	})
	if fr := lb.frame(); fr != nil {
		_, _ = st.w.Write(fr.data)
	}
	st.f.Flush()
	return err
}

// readLines calls fn with each whole line of a build's stored log from offset from up to offset upTo (to
// the end when upTo < 0), and where it starts.
func readLines(ctx context.Context, builds Builds, project string, number int, from, upTo int64, fn func(off int64, text string)) error {
	rc, err := builds.Log(ctx, project, number, from)
	if err != nil {
		return err
	}
	defer rc.Close()
	var r io.Reader = rc
	if upTo >= 0 {
		r = io.LimitReader(rc, upTo-from)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if !strings.HasSuffix(line, "\n") {
			return nil
		}
		fn(from, strings.TrimSuffix(line, "\n"))
		from += int64(len(line))
		if err == io.EOF {
			return nil
		}
	}
}

// write sends one event now.
func (st *stream) write(data []byte) {
	_, _ = st.w.Write(data)
	st.f.Flush()
}
