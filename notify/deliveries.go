package notify

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/baleen-ci/baleen"
)

// printable replaces the control characters of s with spaces: a recorded error quotes what a receiver or a
// mail server answered, which must neither break the table nor reach the reader's terminal as an escape.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// WriteDeliveryTable writes ds to w as the table of `ssh HOST deliveries [<sink>]`: one row per delivery
// with its build, status (and the digest it went out in), HTTP code, attempts, creation time and error.
// The JSON form is api.NewDeliveries.
func WriteDeliveryTable(w io.Writer, ds []baleen.Delivery) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSINK\tEVENT\tBUILD\tSTATUS\tCODE\tATTEMPTS\tCREATED\tERROR")
	for _, d := range ds {
		build := "-"
		if d.Build > 0 {
			build = fmt.Sprintf("%s#%d", d.Project, d.Build)
		}
		status := string(d.Status)
		if d.Digest > 0 {
			status += fmt.Sprintf(" (in %d)", d.Digest)
		}
		code := "-"
		if d.Code > 0 {
			code = fmt.Sprint(d.Code)
		}
		created := ""
		if !d.Created.IsZero() {
			created = d.Created.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.Sink, d.Event, build, status, code, d.Attempts, created, printable(d.Error))
	}
	return tw.Flush()
}
