package spec

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/baleen-ci/baleen"
)

// Error is one problem in a baleen.yml, at a position in the file. Its text is "File:Line:Col: Msg", the
// form compilers use, so editors and terminals can jump to it. Line and Col count from 1; a zero Col (or a
// zero Line) is left out of the text when the position is not known that precisely.
type Error struct {
	File      string
	Line, Col int
	// Msg says what is wrong, starting with the dotted path of the key concerned ("build.api: ...").
	Msg string
	// Warning marks something valid but likely not meant (File.Warnings); its text says "warning:".
	Warning bool
}

// Error returns the problem as "File:Line:Col: Msg", or "File:Line:Col: warning: Msg" for a warning.
func (e *Error) Error() string {
	msg := e.Msg
	if e.Warning {
		msg = "warning: " + msg
	}
	switch {
	case e.Line <= 0:
		return fmt.Sprintf("%s: %s", e.File, msg)
	case e.Col <= 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, msg)
}

// Unwrap returns baleen.ErrInvalid: every problem in a baleen.yml is invalid input.
func (e *Error) Unwrap() error { return baleen.ErrInvalid }

// Errors is every problem found in one file, in file order. Parse, ParseFile and CheckTree return their
// problems as an Errors, which errors.As recovers and errors.Is matches against baleen.ErrInvalid.
type Errors []*Error

// Error returns one line per problem, without a trailing newline: ready to print as CLI output.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, so that errors.Is and errors.As see each of them.
func (es Errors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}

// sorted orders es by position, keeping the order of problems found at the same place.
func (es Errors) sorted() Errors {
	slices.SortStableFunc(es, func(a, b *Error) int {
		if c := cmp.Compare(a.Line, b.Line); c != 0 {
			return c
		}
		return cmp.Compare(a.Col, b.Col)
	})
	return es
}

// orNil returns es as an error, or nil when there are none: a nil Errors must never become a non-nil error.
func (es Errors) orNil() error {
	if len(es) == 0 {
		return nil
	}
	return es.sorted()
}
