package receive

import (
	"fmt"
	"io"
	"strings"
)

// options are the push options Baleen understands.
type options struct {
	// skip stores the pushed branches without a build (`-o ci.skip`).
	skip bool
	// noDeploy builds and tests the pushed branches without deploying them (`-o deploy=false`).
	noDeploy bool
}

// parseOptions reads the push options of a push. Unknown ones are shown to the pusher and ignored.
func parseOptions(raw []string, out io.Writer) options {
	var o options
	for _, opt := range raw {
		switch strings.TrimSpace(opt) {
		case "ci.skip", "ci.skip=true", "skip-ci":
			o.skip = true
		case "deploy=false":
			o.noDeploy = true
		default:
			fmt.Fprintf(out, "push option %q ignored: Baleen knows ci.skip and deploy=false\n", opt)
		}
	}
	return o
}
