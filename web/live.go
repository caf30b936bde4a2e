package web

import (
	"bufio"
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

// liveLine is a log line as the live stream sends it.
type liveLine struct {
	Offset int64  `json:"offset"`
	Num    int    `json:"num,omitempty"`
	HTML   string `json:"html"`
	Stage  string `json:"stage,omitempty"`
}

// liveState is the build's state as the live stream sends it.
type liveState struct {
	Status  baleen.Status `json:"status"`
	Message string        `json:"message,omitempty"`
	Stages  []stageJSON   `json:"stages"`
	Took    string        `json:"took"`
}

// stream is one live stream of a build's log and state to a browser.
type stream struct {
	s       *Server
	w       http.ResponseWriter
	f       http.Flusher
	project string
	number  int
	off     int64
	num     int // the last line's number; 0 when unknown
}

// live streams a build's log from ?offset= (or the Last-Event-ID) and its state as server-sent events:
// "line" per log line, "state" when the build or a stage changes, and "done" once the build has ended.
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
	st := &stream{s: s, w: w, f: f, project: b.Project, number: b.Number}
	st.off, st.num = resumeAt(r)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := st.run(r.Context(), b); err != nil && r.Context().Err() == nil {
		s.log.Error("live log", "project", b.Project, "build", b.Number, "err", err)
	}
}

// resumeAt reads where the browser's log ends: Last-Event-ID "offset:line" after a reconnect, else the
// offset and line query parameters.
func resumeAt(r *http.Request) (int64, int) {
	off, num := r.URL.Query().Get("offset"), r.URL.Query().Get("line")
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		off, num, _ = strings.Cut(id, ":")
	}
	o, _ := strconv.ParseInt(off, 10, 64)
	n, _ := strconv.Atoi(num)
	return max(o, 0), max(n, 0)
}

func (st *stream) run(ctx context.Context, b baleen.Build) error {
	var events <-chan baleen.Event
	if st.s.cfg.Events != nil {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		events = st.s.cfg.Events.Subscribe(ctx, baleen.EventFilter{Project: b.Project, Build: b.Number})
	}
	// Subscribed first, then the stored log: nothing falls between the two.
	if err := st.catchUp(ctx); err != nil {
		return err
	}
	st.state(b)
	if b.Status.Final() {
		return st.done(b)
	}
	tick := time.NewTicker(livePoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if end, err := st.event(ctx, e); end || err != nil {
				return err
			}
			// A burst of lines goes out in one write: flushing each would cost the build's machine a
			// system call per line per viewer.
			if len(events) == 0 {
				st.f.Flush()
			}
		case <-tick.C:
			if end, err := st.refresh(ctx); end || err != nil {
				return err
			}
		}
	}
}

// event handles one build event; end says the build is over and the stream ended.
func (st *stream) event(ctx context.Context, e baleen.Event) (end bool, err error) {
	switch e.Kind {
	case baleen.EventLog:
		if e.Offset == st.off {
			st.line(e.Text)
			return false, nil
		}
		if e.Offset > st.off {
			return false, st.catchUp(ctx)
		}
		return false, nil
	case baleen.EventLagged:
		return false, st.catchUp(ctx)
	case baleen.EventStageStarted, baleen.EventStageFinished, baleen.EventBuildStarted, baleen.EventTestSummary, baleen.EventBuildFinished:
		return st.refresh(ctx)
	}
	return false, nil
}

// refresh sends what the store has beyond what was sent, and the build's state; at the build's end, done.
func (st *stream) refresh(ctx context.Context) (bool, error) {
	if err := st.catchUp(ctx); err != nil {
		return false, err
	}
	b, err := st.s.cfg.Builds.Build(ctx, st.project, st.number)
	if err != nil {
		return false, err
	}
	st.state(b)
	if b.Status.Final() {
		return true, st.done(b)
	}
	return false, nil
}

// catchUp sends the stored log's whole lines from st.off on.
func (st *stream) catchUp(ctx context.Context) error {
	rc, err := st.s.cfg.Builds.Log(ctx, st.project, st.number, st.off)
	if err != nil {
		return err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if !strings.HasSuffix(line, "\n") {
			break
		}
		st.line(strings.TrimSuffix(line, "\n"))
		if err == io.EOF {
			break
		}
	}
	st.f.Flush()
	return nil
}

// line sends one log line and moves past it.
func (st *stream) line(text string) {
	l := liveLine{Offset: st.off, HTML: ansiHTML(text)}
	if st.num > 0 || st.off == 0 {
		st.num++
		l.Num = st.num
	}
	if stage, ok := stageHeader(text); ok {
		l.Stage = stage
	}
	st.off += int64(len(text)) + 1
	st.send("line", fmt.Sprintf("%d:%d", st.off, st.num), l)
}

func (st *stream) state(b baleen.Build) {
	st.send("state", "", liveState{Status: b.Status, Message: b.Message, Stages: stagesJSON(b.Stages), Took: took(b)})
	st.f.Flush()
}

func (st *stream) done(b baleen.Build) error {
	st.send("done", "", liveState{Status: b.Status, Message: b.Message, Stages: stagesJSON(b.Stages), Took: took(b)})
	st.f.Flush()
	return nil
}

func (st *stream) send(event, id string, v any) {
	data, _ := json.Marshal(v) // plain structs of strings and numbers
	if id != "" {
		fmt.Fprintf(st.w, "id: %s\n", id)
	}
	fmt.Fprintf(st.w, "event: %s\ndata: %s\n\n", event, data)
}
