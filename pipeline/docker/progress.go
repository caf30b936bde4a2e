package docker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	controlapi "github.com/moby/buildkit/api/services/control"
	"google.golang.org/protobuf/proto"
)

// Step is one step (a BuildKit vertex) of an image build as it finished, for observers such as metrics
// and tests (Options.OnStep).
type Step struct {
	// Number is the step's number in the build's output ("#3"), in order of first appearance.
	Number int
	// Name is BuildKit's name for the step, such as "[app 2/3] RUN make".
	Name string
	// Cached is set when the step's result came from the cache.
	Cached bool
	// Started and Completed are the engine's times; Started is zero for a cached step.
	Started, Completed time.Time
	// Error is BuildKit's message when the step failed.
	Error string
}

// auxTrace is the id of the messages of a BuildKit build's JSON stream that carry its progress.
const auxTrace = "moby.buildkit.trace"

// decodeBuildKitStream reads the JSON stream of a BuildKit build into r until it ends. An error inside
// the stream ends it and comes back as a *streamError carrying the engine's message.
func decodeBuildKitStream(body io.Reader, r *stepRenderer) error {
	return readStream(body, func(m *streamMessage) error {
		switch {
		case m.ID == auxTrace && len(m.Aux) > 0:
			// The trace is a StatusResponse protobuf, base64 in a JSON string; what does not parse is left.
			var raw []byte
			var st controlapi.StatusResponse
			if json.Unmarshal(m.Aux, &raw) == nil && proto.Unmarshal(raw, &st) == nil {
				return r.status(&st)
			}
		case m.Stream != "":
			if _, err := io.WriteString(r.out, m.Stream); err != nil {
				return fmt.Errorf("write output: %w", err)
			}
		}
		return nil
	})
}

// stepRenderer turns BuildKit's status updates into plain lines: each line a step's process printed,
// prefixed with the step's number, as it comes, and one line per step when it ends, with its name and
// DONE and its duration, CACHED, or ERROR and BuildKit's message.
type stepRenderer struct {
	out    io.Writer
	onStep func(Step)
	steps  map[string]*stepState
	order  []*stepState
}

// stepState is what the renderer knows of one vertex.
type stepState struct {
	Step
	done    bool
	partial []byte // the start of a log line whose end has not come yet
}

func newStepRenderer(out io.Writer, onStep func(Step)) *stepRenderer {
	return &stepRenderer{out: out, onStep: onStep, steps: make(map[string]*stepState)}
}

// step returns the state of vertex dgst, numbering it when it is new.
func (r *stepRenderer) step(dgst string) *stepState {
	s, ok := r.steps[dgst]
	if !ok {
		s = &stepState{Step: Step{Number: len(r.order) + 1}}
		r.steps[dgst] = s
		r.order = append(r.order, s)
	}
	return s
}

// status takes one status update: logs first (they belong to steps that may end in the same update),
// then the vertices.
func (r *stepRenderer) status(st *controlapi.StatusResponse) error {
	for _, v := range st.Vertexes {
		s := r.step(v.Digest)
		if v.Name != "" {
			s.Name = v.Name
		}
	}
	for _, l := range st.Logs {
		if err := r.log(r.step(l.Vertex), l.Msg); err != nil {
			return err
		}
	}
	for _, v := range st.Vertexes {
		s := r.step(v.Digest)
		if v.Started != nil {
			s.Started = v.Started.AsTime()
		}
		if v.Completed != nil {
			s.Completed = v.Completed.AsTime()
		}
		s.Cached = s.Cached || v.Cached
		s.Error = v.Error
		if s.done || (v.Completed == nil && !v.Cached && v.Error == "") {
			continue
		}
		if err := r.finish(s); err != nil {
			return err
		}
	}
	return nil
}

// log writes the complete lines of msg, prefixed with the step's number, keeping an unfinished line.
func (r *stepRenderer) log(s *stepState, msg []byte) error {
	data := append(s.partial, msg...)
	s.partial = nil
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		if _, err := fmt.Fprintf(r.out, "#%d %s\n", s.Number, strings.TrimRight(string(data[:i]), "\r")); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		data = data[i+1:]
	}
	if len(data) > 0 {
		s.partial = append([]byte(nil), data...)
	}
	return nil
}

// finish writes the line that ends step s.
func (r *stepRenderer) finish(s *stepState) error {
	s.done = true
	if len(s.partial) > 0 {
		if err := r.log(s, []byte("\n")); err != nil {
			return err
		}
	}
	var mark string
	switch {
	case s.Error != "":
		mark = "ERROR: " + s.Error
	case s.Cached:
		mark = "CACHED"
	case !s.Started.IsZero() && !s.Completed.IsZero():
		mark = fmt.Sprintf("DONE %.1fs", s.Completed.Sub(s.Started).Seconds())
	default:
		mark = "DONE"
	}
	if r.onStep != nil {
		r.onStep(s.Step)
	}
	if _, err := fmt.Fprintf(r.out, "#%d %s %s\n", s.Number, s.Name, mark); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// flush writes what is left of the steps' logs once the stream ended.
func (r *stepRenderer) flush() {
	for _, s := range r.order {
		if len(s.partial) > 0 {
			r.log(s, []byte("\n"))
		}
	}
}
