package spec

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// The limits that keep checking a baleen.yml linear in its size, whatever it holds. A real file has a handful
// of images and dependencies; these are far above that and far below what would make the check slow.
const (
	// MaxImages is the most build images a file may name.
	MaxImages = 100
	// MaxDepends is the most dependencies a file may name.
	MaxDepends = 100
	// MaxUnits is the most deploy units a file may name.
	MaxUnits = 100
	// MaxEntries is the most entries any one list or mapping may hold (env, args, ports, a command's
	// arguments...).
	MaxEntries = 1000
	// MaxErrors is how many problems are reported; past it, Errors ends with a line saying how many more
	// there were.
	MaxErrors = 50
	// MaxDepth is how deeply YAML's parser lets collections nest; the file is refused past it.
	MaxDepth = 10000
)

// checkBytes refuses, with a line and column, what has no place in a baleen.yml and what YAML's parser would
// refuse without a position: bytes that are not UTF-8, a NUL byte, and control characters other than tab,
// newline and carriage return (an ANSI escape sequence among them).
func checkBytes(file string, data []byte) *Error {
	line, lineStart := 1, 0
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		at := func(format string, args ...any) *Error {
			col := utf8.RuneCount(data[lineStart:i]) + 1
			return &Error{File: file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
		}
		switch {
		case r == utf8.RuneError && size == 1:
			return at("byte 0x%02x is not UTF-8: a baleen.yml is UTF-8 text", data[i])
		case r == '\n':
			line, lineStart = line+1, i+1
		default:
			if msg := controlChar(r); msg != "" {
				return at("%s: a baleen.yml is plain text", msg)
			}
		}
		i += size
	}
	return nil
}

// controlChar names r when it is a control character a baleen.yml may not hold (tab, newline and carriage
// return are fine), or returns "".
func controlChar(r rune) string {
	switch {
	case r == 0:
		return "a NUL byte"
	case r == 0x1b:
		return "an escape character (U+001B, which starts ANSI terminal sequences)"
	case r == '\t' || r == '\n' || r == '\r':
		return ""
	case r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f:
		return fmt.Sprintf("a control character (U+%04X)", r)
	}
	return ""
}

// checkValue refuses a scalar whose decoded value holds a control character: a quoted "\e[31m" gets past
// checkBytes as text and would reach terminals as an escape.
func (p *parser) checkValue(n *yaml.Node) {
	for _, r := range n.Value {
		if msg := controlChar(r); msg != "" {
			p.errorf(n, "%q holds %s: write plain text", truncate(n.Value, 40), msg)
			return
		}
	}
}

// plainTags are the YAML tags a baleen.yml may hold: those of plain strings, numbers, booleans, null,
// mappings and lists. timestamp is what a date-like plain scalar resolves to; written out, it is refused.
var plainTags = map[string]bool{"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!null": true,
	"!!map": true, "!!seq": true, "!!merge": true}

// checkTag refuses any tag but those of plain values: `!!python/object`, `!custom`, `!!binary` and the like
// mean something to some other program and nothing to Baleen.
func (p *parser) checkTag(n *yaml.Node) {
	if plainTags[n.Tag] || n.Tag == "!!timestamp" && n.Style&yaml.TaggedStyle == 0 || n.Kind == yaml.AliasNode {
		return
	}
	p.errorf(n, "the YAML tag %s is not supported: a baleen.yml holds plain strings, numbers, booleans, lists and mappings", truncate(n.Tag, 40))
}

// depthError gives YAML's "exceeded max depth" its place: the first bracket at which flow collections
// nest deeper than MaxDepth (counted naively, brackets inside strings included) on the line YAML named (any
// line when it named none), or that line's start.
func depthError(file string, data []byte, line int) *Error {
	e := &Error{File: file, Line: max(line, 1), Col: 1,
		Msg: fmt.Sprintf("collections nest deeper than %d levels: a baleen.yml needs a handful", MaxDepth)}
	depth, l, lineStart := 0, 1, 0
	for i, c := range data {
		switch c {
		case '\n':
			l, lineStart = l+1, i+1
		case '[', '{':
			if depth++; depth > MaxDepth && (line <= 0 || l == line) {
				e.Line, e.Col = l, utf8.RuneCount(data[lineStart:i])+1
				return e
			}
		case ']', '}':
			depth = max(depth-1, 0)
		}
	}
	return e
}

// truncate shortens s for a message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// capEntries reports a list or mapping longer than limit and returns how many of its entries to check.
func (p *parser) capEntries(n *yaml.Node, path, what string, count, limit int) int {
	if count <= limit {
		return count
	}
	p.errorf(n, "%s: %d %s, over the limit of %d", path, count, what, limit)
	return limit
}

// suggest is the package's suggest, once the error cap is reached skipped: no one reads those suggestions,
// and they are the costly part of a problem.
func (p *parser) suggest(s string, candidates []string) string {
	if len(p.errs) >= MaxErrors {
		return ""
	}
	return suggest(s, candidates)
}

// result returns the problems found, in file order, capped at MaxErrors with a last line saying how many
// more there were; nil when there are none.
func (p *parser) result() error {
	if len(p.errs) == 0 {
		return nil
	}
	es := p.errs.sorted()
	if p.more > 0 {
		last := es[len(es)-1]
		es = append(es, &Error{File: p.file, Line: last.Line, Col: last.Col,
			Msg: fmt.Sprintf("... and %d more %s (only the first %d are shown)", p.more, plural(p.more, "problem"), MaxErrors)})
	}
	return es
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// tagKeywords are the push tags Baleen fills in; anything else is a literal tag.
var tagKeywords = []string{"commit", "short", "branch", "build", "latest"}

// tagTypo returns the keyword a literal push tag is one edit away from ("comit": commit), or "".
func tagTypo(tag string) string {
	lower := strings.ToLower(tag)
	for _, k := range tagKeywords {
		if tag != k && len(lower) < 2*len(k) && distance(lower, k) <= 1 {
			return k
		}
	}
	return ""
}
