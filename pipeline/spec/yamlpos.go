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
// position is found by bisection instead: the shortest prefix of data that fails with the same message
// ends at the character where the error becomes certain (a prefix that stops before it parses, or fails
// differently); for a flow collection left open, that is its bracket. It returns that character's line and column, counted from 1 (the column in runes), and
// false when the whole of data does not fail with msg.
func syntaxPosition(data []byte, msg string) (line, col int, ok bool) {
	if !failsWith(data, msg) {
		return 0, 0, false
	}
	lo, hi := 0, len(data) // data[:lo] does not fail with msg; data[:hi] does
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if failsWith(data[:mid], msg) {
			hi = mid
		} else {
			lo = mid
		}
	}
	at := max(hi-1, 0)
	// A flow collection left open fails at the end of any prefix past its first entry: point at its bracket.
	if strings.HasPrefix(msg, "did not find expected ',' or") {
		if b := bytes.TrimRight(data[:at], " \t\r\n"); len(b) > 0 && (b[len(b)-1] == '[' || b[len(b)-1] == '{') {
			at = len(b) - 1
		}
	}
	lineStart := bytes.LastIndexByte(data[:at], '\n') + 1
	return bytes.Count(data[:at], []byte("\n")) + 1, utf8.RuneCount(data[lineStart:at]) + 1, true
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
