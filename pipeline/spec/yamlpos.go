package spec

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// syntaxPosition finds where in data the YAML syntax error whose text is msg lies. yaml's messages carry
// at most a line, and that is often the line of the enclosing construct rather than of the problem, so the
// position is found by bisection instead, in two steps: the first line such that the file up to the end
// of that line fails with the same message, then, within that line, the shortest prefix that does. It
// ends at the character where the error becomes certain; for a flow collection left open, that is its
// bracket. Whole lines come first because a prefix cut inside a line fails for reasons of its own (a key
// cut before its colon fails as "could not find expected ':'"), one cut after a whole line seldom does.
// It returns the line and column, counted from 1 (the column in runes), and false when the whole of data
// does not fail with msg.
//
// near is the line yaml's message names (0 when none): the problem is at or after it, so the search starts
// at the line before it when the file up to there does not fail, which saves parses in a large file.
func syntaxPosition(data []byte, msg string, near int) (line, col int, ok bool) {
	if !failsWith(data, msg) {
		return 0, 0, false
	}
	ends := lineEnds(data)
	lo, hi := -1, len(ends)-1 // data[:ends[lo]] does not fail with msg (-1: the empty prefix); data[:ends[hi]] does
	if near >= 2 && near-2 < hi && !failsWith(data[:ends[near-2]], msg) {
		lo = near - 2
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if failsWith(data[:ends[mid]], msg) {
			hi = mid
		} else {
			lo = mid
		}
	}
	a, b := 0, ends[hi] // the same within the line: data[:a] does not fail, data[:b] does
	if hi > 0 {
		a = ends[hi-1]
	}
	for b-a > 1 {
		mid := a + (b-a)/2
		if failsWith(data[:mid], msg) {
			b = mid
		} else {
			a = mid
		}
	}
	at := max(b-1, 0)
	// A flow collection left open fails at the end of any prefix past its first entry: point at its bracket.
	if strings.HasPrefix(msg, "did not find expected ',' or") {
		if t := bytes.TrimRight(data[:at], " \t\r\n"); len(t) > 0 && (t[len(t)-1] == '[' || t[len(t)-1] == '{') {
			at = len(t) - 1
		}
	}
	lineStart := bytes.LastIndexByte(data[:at], '\n') + 1
	return bytes.Count(data[:at], []byte("\n")) + 1, utf8.RuneCount(data[lineStart:at]) + 1, true
}

// lineEnds returns, for each line of data, the offset just past it (past its newline); the last is
// len(data).
func lineEnds(data []byte) []int {
	var ends []int
	for off := 0; ; {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			if off < len(data) || len(ends) == 0 {
				ends = append(ends, len(data))
			}
			return ends
		}
		off += i + 1
		ends = append(ends, off)
	}
}

// failsWith says whether decoding data, up to its second document, fails with the message msg (yaml's
// text without its "yaml: line N: " prefix).
func failsWith(data []byte, msg string) (fails bool) {
	defer func() {
		if recover() != nil {
			fails = false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for range 2 {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return false
		}
		if err != nil {
			return yamlMessage(err) == msg
		}
	}
	return false
}

// yamlMessage is the text of a yaml error without its "yaml: " and "line N: " prefixes.
func yamlMessage(err error) string {
	msg := err.Error()
	if m := yamlLinePattern.FindStringSubmatch(msg); m != nil {
		return m[2]
	}
	return strings.TrimPrefix(msg, "yaml: ")
}
