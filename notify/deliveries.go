package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/baleen-ci/baleen"
)

// listLimit is how many deliveries WriteDeliveries shows.
const listLimit = 100

// DeliveryView is a delivery as `deliveries --json` prints it: the record without the message.
type DeliveryView struct {
	ID         int64                 `json:"id"`
	Sink       string                `json:"sink"`
	Event      string                `json:"event"`
	Project    string                `json:"project,omitempty"`
	Build      int                   `json:"build,omitempty"`
	Status     baleen.DeliveryStatus `json:"status"`
	Attempts   int                   `json:"attempts"`
	Code       int                   `json:"code,omitempty"`
	Error      string                `json:"error,omitempty"`
	Created    string                `json:"created"`
	Last       string                `json:"last,omitempty"`
	Next       string                `json:"next,omitempty"`
	Redelivers int64                 `json:"redelivers,omitempty"`
	Digest     int64                 `json:"digest,omitempty"`
}

// WriteDeliveries writes the newest deliveries (of sink, or of every sink when empty) to w, as a table or,
// with asJSON, one JSON array: the body of `ssh HOST deliveries [<sink>] [--json]`.
func WriteDeliveries(ctx context.Context, w io.Writer, st baleen.DeliveryStore, sink string, asJSON bool) error {
	ds, err := st.Deliveries(ctx, baleen.DeliveryFilter{Sink: sink, Limit: listLimit})
	if err != nil {
		return err
	}
	views := make([]DeliveryView, 0, len(ds))
	for _, d := range ds {
		views = append(views, view(d))
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(views)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSINK\tEVENT\tBUILD\tSTATUS\tCODE\tATTEMPTS\tCREATED\tERROR")
	for _, v := range views {
		build := "-"
		if v.Build > 0 {
			build = fmt.Sprintf("%s#%d", v.Project, v.Build)
		}
		status := string(v.Status)
		if v.Digest > 0 {
			status += fmt.Sprintf(" (in %d)", v.Digest)
		}
		code := "-"
		if v.Code > 0 {
			code = fmt.Sprint(v.Code)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", v.ID, v.Sink, v.Event, build, status, code, v.Attempts, v.Created, v.Error)
	}
	return tw.Flush()
}

func view(d baleen.Delivery) DeliveryView {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	v := DeliveryView{
		ID: d.ID, Sink: d.Sink, Event: d.Event, Project: d.Project, Build: d.Build, Status: d.Status,
		Attempts: d.Attempts, Code: d.Code, Error: d.Error, Created: ts(d.Created), Last: ts(d.Last),
		Redelivers: d.Redelivers, Digest: d.Digest,
	}
	if d.Status == baleen.DeliveryPending {
		v.Next = ts(d.Next)
	}
	return v
}
