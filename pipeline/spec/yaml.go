package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/baleen-ci/baleen"
	"go.yaml.in/yaml/v3"
)

// aliasBudget is how many nodes a file may reach through YAML aliases, all aliases together. A real
// baleen.yml reuses a few small anchors; the classic "billion laughs" reaches 10^9 and is refused at this
// budget, never expanded.
const aliasBudget = 10000

// yamlLinePattern picks the line out of go.yaml.in/yaml/v3's syntax errors ("yaml: line 3: ...").
var yamlLinePattern = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// decode reads the single YAML document in data. It returns the document's content node, or nil and the
// problem. yaml's parser reports some internal errors by panicking; those become errors too.
func decode(file string, data []byte) (node *yaml.Node, problem *Error) {
	defer func() {
		if r := recover(); r != nil {
			node, problem = nil, &Error{File: file, Line: 1, Col: 1, Msg: fmt.Sprintf("invalid YAML: %v", r)}
		}
	}()
	if problem := checkBytes(file, data); problem != nil {
		return nil, problem
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, emptyFile(file)
		}
		return nil, syntaxError(file, data, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, &Error{File: file, Line: next.Line, Col: next.Column,
			Msg: "a second YAML document: want exactly one (remove the '---')"}
	case !errors.Is(err, io.EOF):
		return nil, syntaxError(file, data, err)
	}
	if len(doc.Content) == 0 {
		return nil, emptyFile(file)
	}
	top := doc.Content[0]
	if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
		return nil, emptyFile(file)
	}
	return top, nil
}

func emptyFile(file string) *Error {
	return &Error{File: file, Line: 1, Col: 1, Msg: "the file is empty: want at least a build section, such as `build: {app: .}`"}
}

// syntaxError turns a yaml error into an Error at the line and column where the problem is
// (syntaxPosition). When that cannot be found, the line is the one yaml names, or for "unknown anchor",
// which names none, the first use of the anchor.
func syntaxError(file string, data []byte, err error) *Error {
	msg := yamlMessage(err)
	line := 0
	if m := yamlLinePattern.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
	}
	if strings.HasPrefix(msg, "exceeded max depth") {
		return depthError(file, data, line)
	}
	e := &Error{File: file, Line: line, Msg: "invalid YAML: " + msg}
	var name string
	if _, scanErr := fmt.Sscanf(msg, "unknown anchor %s referenced", &name); scanErr == nil {
		if i := bytes.Index(data, []byte("*"+strings.Trim(name, "'"))); i >= 0 {
			e.Line = bytes.Count(data[:i], []byte("\n")) + 1
			e.Col = utf8.RuneCount(data[bytes.LastIndexByte(data[:i], '\n')+1:i]) + 1
		}
		return e
	}
	if l, c, ok := syntaxPosition(data, msg, line); ok {
		e.Line, e.Col = l, c
	}
	return e
}

// scan walks the whole document once before it is interpreted: it reports duplicate keys in every mapping,
// and counts the nodes reached through aliases, refusing the file when they pass aliasBudget. Alias cycles
// ("&a [*a]") end there too. It returns false when the budget ran out.
func (p *parser) scan(n *yaml.Node, aliased bool, count *int) bool {
	if n == nil {
		return true
	}
	if aliased {
		*count++
		if *count > aliasBudget {
			return false
		}
	}
	if !aliased {
		p.checkTag(n)
		if n.Kind == yaml.ScalarNode {
			p.checkValue(n)
		}
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return true
		}
		if !p.scan(n.Alias, true, count) {
			if !aliased {
				p.errorf(n, "alias *%s: aliases reach more than %d nodes; refusing to expand them", n.Value, aliasBudget)
			}
			return false
		}
		return true
	case yaml.MappingNode:
		if !aliased {
			p.checkDuplicates(n)
		}
	}
	for _, c := range n.Content {
		if !p.scan(c, aliased, count) {
			return false
		}
	}
	return true
}

func (p *parser) checkDuplicates(n *yaml.Node) {
	seen := make(map[string]int)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := deref(n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode {
			continue
		}
		if line, dup := seen[k.Value]; dup {
			p.errorf(n.Content[i], "duplicate key %q (first at line %d)", k.Value, line)
			continue
		}
		seen[k.Value] = n.Content[i].Line
	}
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 8; i++ {
		n = n.Alias
	}
	return n
}

// kindName says what a node is, for "want X, got Y" messages.
func kindName(n *yaml.Node) string {
	n = deref(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int", "!!float":
			return "a number"
		}
		return "a string"
	}
	return "an alias"
}

// pair is one key and value of a mapping. key and val are the nodes as written (val may be an alias).
type pair struct {
	name     string
	key, val *yaml.Node
}

// mapping returns the pairs of the mapping n, or reports that n is not one. Duplicate keys were reported by
// scan; only the first of them is kept. Merge keys ("<<") are refused.
func (p *parser) mapping(n *yaml.Node, path, want string) ([]pair, bool) {
	v := deref(n)
	if v == nil || v.Kind != yaml.MappingNode {
		p.errorf(n, "%s: want %s, got %s", path, want, kindName(n))
		return nil, false
	}
	var pairs []pair
	seen := make(map[string]bool)
	content := v.Content[:2*p.capEntries(n, path, "entries", len(v.Content)/2, max(MaxEntries, MaxImages, MaxDepends, MaxUnits))]
	for i := 0; i+1 < len(content); i += 2 {
		kn := v.Content[i]
		k := deref(kn)
		switch {
		case k == nil || k.Kind != yaml.ScalarNode:
			p.errorf(kn, "%s: want a string key, got %s", path, kindName(kn))
			continue
		case k.Tag == "!!merge":
			p.errorf(kn, "%s: merge keys (<<) are not supported; write the keys out", path)
			continue
		case seen[k.Value]:
			continue
		}
		seen[k.Value] = true
		pairs = append(pairs, pair{name: k.Value, key: kn, val: v.Content[i+1]})
	}
	return pairs, true
}

// known reports every key of pairs that the section does not allow, suggesting the likely intended one,
// and returns the allowed pairs by name. A misspelt key stands for the key suggested, when that one is not
// written too, so that the problems under it are reported with the rest (`biuld:` is checked as build).
func (p *parser) known(pairs []pair, section, path string) map[string]pair {
	allowed := keysOf(section)
	m := make(map[string]pair, len(pairs))
	written := make(map[string]bool, len(pairs))
	for _, kv := range pairs {
		written[kv.name] = true
	}
	for _, kv := range pairs {
		if !contains(allowed, kv.name) {
			if s := p.suggest(kv.name, allowed); s != "" {
				p.errorf(kv.key, "%s: unknown key; did you mean %s?", join(path, kv.name), s)
				if _, taken := m[s]; !taken && !written[s] {
					m[s] = kv
				}
			} else {
				p.errorf(kv.key, "%s: unknown key; want one of %s", join(path, kv.name), strings.Join(allowed, ", "))
			}
			continue
		}
		m[kv.name] = kv
	}
	return m
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// join appends a key to a dotted path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// isNull reports whether n is absent or an explicit null.
func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// isEmpty reports whether n is absent, null, or an empty mapping: how `push: {}` and `deploy: {}` say
// "not set".
func isEmpty(n *yaml.Node) bool {
	v := deref(n)
	return isNull(n) || v.Kind == yaml.MappingNode && len(v.Content) == 0
}

// scalar returns the text of a scalar that is not null; numbers and booleans count, as written. It reports
// anything else as "want <want>".
func (p *parser) scalar(n *yaml.Node, path, want string) (string, bool) {
	v := deref(n)
	if v == nil || v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		p.errorf(n, "%s: want %s, got %s", path, want, kindName(n))
		return "", false
	}
	if strings.ContainsRune(v.Value, 0) {
		p.errorf(n, "%s: contains a NUL byte", path)
		return "", false
	}
	return v.Value, true
}

// str is scalar, refusing the empty string.
func (p *parser) str(n *yaml.Node, path, want string) (string, bool) {
	s, ok := p.scalar(n, path, want)
	if ok && strings.TrimSpace(s) == "" {
		p.errorf(n, "%s: want %s, got an empty string", path, want)
		return "", false
	}
	return s, ok
}

// strList reads a list of non-empty strings and returns it with the node of each element.
func (p *parser) strList(n *yaml.Node, path, want string) ([]string, []*yaml.Node) {
	v := deref(n)
	if v == nil || v.Kind != yaml.SequenceNode {
		p.errorf(n, "%s: want a list of %s, got %s", path, want, kindName(n))
		return nil, nil
	}
	var out []string
	var nodes []*yaml.Node
	for i, e := range v.Content[:p.capEntries(n, path, "entries", len(v.Content), MaxEntries)] {
		if s, ok := p.str(e, fmt.Sprintf("%s[%d]", path, i), want); ok {
			out = append(out, s)
			nodes = append(nodes, e)
		}
	}
	return out, nodes
}

// envMap reads a mapping of variable names to values. Values are any scalar, as written ("1", "true").
func (p *parser) envMap(n *yaml.Node, path, what string) map[string]string {
	if isNull(n) {
		return nil
	}
	pairs, ok := p.mapping(n, path, "a mapping of "+what+" names to values")
	if !ok {
		return nil
	}
	m := make(map[string]string, len(pairs))
	for _, kv := range pairs {
		kpath := join(path, kv.name)
		if msg := checkEnvName(kv.name); msg != "" {
			p.errorf(kv.key, "%s: %s", kpath, msg)
			continue
		}
		if isNull(kv.val) {
			p.errorf(kv.val, "%s: want a value, got null (write \"\" for an empty one)", kpath)
			continue
		}
		if s, ok := p.scalar(kv.val, kpath, "a string value"); ok {
			m[kv.name] = s
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// maxSeconds is the largest whole number of seconds a time.Duration holds.
const maxSeconds = int64(1<<63-1) / int64(time.Second)

// duration reads a Go duration ("90s", "1h30m") or a whole number of seconds; it must be positive.
func (p *parser) duration(n *yaml.Node, path string) (time.Duration, bool) {
	const want = "a duration such as 90s, 5m or 1h30m"
	v := deref(n)
	if v == nil || v.Kind != yaml.ScalarNode || v.Tag == "!!null" || v.Tag == "!!bool" {
		p.errorf(n, "%s: want %s, got %s", path, want, kindName(n))
		return 0, false
	}
	var d time.Duration
	switch v.Tag {
	case "!!int":
		var secs int64
		if err := v.Decode(&secs); err != nil || secs > maxSeconds {
			p.errorf(n, "%s: %s is out of range", path, v.Value)
			return 0, false
		}
		d = time.Duration(secs) * time.Second
	case "!!float":
		if !strings.ContainsAny(v.Value, ".eE") {
			p.errorf(n, "%s: %s is out of range", path, v.Value)
			return 0, false
		}
		p.errorf(n, "%s: %s is not a whole number of seconds: want %s", path, v.Value, want)
		return 0, false
	default:
		var err error
		if d, err = time.ParseDuration(v.Value); err != nil {
			p.errorf(n, "%s: %q is not a duration: want %s", path, v.Value, want)
			return 0, false
		}
	}
	if d <= 0 {
		p.errorf(n, "%s: want a positive duration, got %s", path, v.Value)
		return 0, false
	}
	return d, true
}

// command reads a command: a string, run with sh -c, or a non-empty list, run as is.
func (p *parser) command(n *yaml.Node, path string) baleen.Command {
	const want = "a command: a string (run with sh -c) or a list (run as is)"
	v := deref(n)
	switch {
	case v != nil && v.Kind == yaml.SequenceNode:
		if len(v.Content) == 0 {
			p.errorf(n, "%s: want %s, got an empty list", path, want)
			return baleen.Command{}
		}
		argv := make([]string, 0, len(v.Content))
		for i, e := range v.Content[:p.capEntries(n, path, "arguments", len(v.Content), MaxEntries)] {
			epath := fmt.Sprintf("%s[%d]", path, i)
			var s string
			var ok bool
			if i == 0 {
				s, ok = p.str(e, epath, "a program name")
			} else {
				s, ok = p.scalar(e, epath, "a string argument")
			}
			if !ok {
				return baleen.Command{}
			}
			argv = append(argv, s)
		}
		return baleen.Command{Exec: argv}
	case v != nil && v.Kind == yaml.ScalarNode && v.Tag != "!!null":
		s, ok := p.str(n, path, want)
		if !ok {
			return baleen.Command{}
		}
		return baleen.Command{Shell: s}
	}
	p.errorf(n, "%s: want %s, got %s", path, want, kindName(n))
	return baleen.Command{}
}

// boolean reads true or false.
func (p *parser) boolean(n *yaml.Node, path string) *bool {
	v := deref(n)
	var b bool
	if v == nil || v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || v.Decode(&b) != nil {
		p.errorf(n, "%s: want true or false, got %s", path, kindName(n))
		return nil
	}
	return &b
}

// toAny converts a node to plain Go values: mappings to map[string]any, lists to []any, booleans to bool,
// integers to int64, null to nil, and every other scalar to its text. scan has bounded what aliases reach.
func toAny(n *yaml.Node) any {
	v := deref(n)
	if v == nil {
		return nil
	}
	switch v.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(v.Content)/2)
		for i := 0; i+1 < len(v.Content); i += 2 {
			k := deref(v.Content[i])
			if k == nil || k.Kind != yaml.ScalarNode {
				continue
			}
			if _, dup := m[k.Value]; !dup {
				m[k.Value] = toAny(v.Content[i+1])
			}
		}
		return m
	case yaml.SequenceNode:
		l := make([]any, len(v.Content))
		for i, e := range v.Content {
			l[i] = toAny(e)
		}
		return l
	}
	switch v.Tag {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if v.Decode(&b) == nil {
			return b
		}
	case "!!int":
		var i int64
		if v.Decode(&i) == nil {
			return i
		}
	}
	return v.Value
}
