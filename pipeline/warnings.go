package pipeline

import (
	"fmt"
	"io"

	"github.com/baleen-ci/baleen/pipeline/spec"
)

// warned prints baleen.yml's warnings (valid but likely not meant) in the config stage and returns err.
func warned(out io.Writer, warnings spec.Errors, err error) error {
	for _, w := range warnings {
		fmt.Fprintln(out, w.Error())
	}
	return err
}
