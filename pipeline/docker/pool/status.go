package pool

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/baleen-ci/baleen"
)

// EngineStatus is what the pool reports of one engine, for `ssh HOST engines`, the web and metrics; its
// JSON shape is api.Engine.
type EngineStatus struct {
	Name   string
	Host   string
	State  State
	Reason string
	Labels []string
	Slots  int
	InUse  int
	// Builds are the builds holding a slot, in the order they took it.
	Builds []baleen.BuildID
	Since  time.Time
}

// Status reports every engine of the pool, by name.
func (p *Pool) Status() []EngineStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]EngineStatus, 0, len(p.members))
	for _, m := range p.members {
		out = append(out, EngineStatus{
			Name: m.name, Host: baleen.RedactURL(m.host), State: m.state, Reason: m.reason,
			Labels: slices.Clone(m.labels), Slots: m.slots, InUse: len(m.builds),
			Builds: slices.Clone(m.builds), Since: m.since,
		})
	}
	return out
}

// RenderStatus writes st as the table of `engines`: engine, state, slots in use, labels, builds, and the
// reason of an engine that is down. The JSON form is api.Engine.
func RenderStatus(w io.Writer, st []EngineStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENGINE\tSTATE\tSLOTS\tLABELS\tBUILDS")
	for _, s := range st {
		builds := make([]string, len(s.Builds))
		for i, b := range s.Builds {
			builds[i] = string(b)
		}
		state := string(s.State)
		if s.Reason != "" {
			state += " (" + s.Reason + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\n", s.Name, state, s.InUse, s.Slots,
			orDash(strings.Join(s.Labels, ",")), orDash(strings.Join(builds, " ")))
	}
	return tw.Flush()
}

// orDash is s, or "-" when s is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
