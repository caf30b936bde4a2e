package receive

import (
	"fmt"
	"io"
	"strings"

	"github.com/baleen-ci/baleen"
)

// options are the push options Baleen understands.
type options struct {
	// skip stores the pushed branches without a build (`-o ci.skip`).
	skip bool
}

// parseOptions reads the push options of a push. Unknown ones are shown to the pusher and ignored;
// deploy=false is refused until the pipeline can run a build without its deploy stage, so that a push that
// asks not to deploy never deploys.
func parseOptions(raw []string, out io.Writer) (options, error) {
	var o options
	for _, opt := range raw {
		switch strings.TrimSpace(opt) {
		case "ci.skip", "ci.skip=true", "skip-ci":
			o.skip = true
		case "deploy=false":
			return o, fmt.Errorf("push option deploy=false is not supported by this server yet; push without it: %w", baleen.ErrInvalid)
		default:
			fmt.Fprintf(out, "push option %q ignored: Baleen knows ci.skip\n", opt)
		}
	}
	return o, nil
}
