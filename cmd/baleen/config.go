package main

import (
	"bytes"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/access"
	"github.com/baleen-ci/baleen/forge"
	"github.com/baleen-ci/baleen/notify"
	"github.com/baleen-ci/baleen/pipeline/docker/pool"
	"github.com/baleen-ci/baleen/pipeline/retention"
	"github.com/baleen-ci/baleen/pipeline/spec"
	"go.yaml.in/yaml/v3"
)

// Config is everything `baleen serve` is told, from flags, the environment and the config file, in that
// order of precedence. docs/config.md documents it.
type Config struct {
	Data   string `yaml:"data"`
	Listen string `yaml:"listen"`
	// AddressFile, when set, receives the address the server listens on once it does (useful with a
	// listen port of 0); a flag only.
	AddressFile    string `yaml:"-"`
	AuthorizedKeys string `yaml:"authorized_keys"`
	// Concurrency caps the builds that run at once across projects.
	Concurrency int `yaml:"concurrency"`
	// ShutdownGrace is how long running builds may go on after SIGTERM before they are cancelled.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// Credentials are the secrets builds may ask for by name in baleen.yml.
	Credentials map[string]Credential `yaml:"credentials"`
	// Users and Access are the named users and the rules that give them roles per project; package access
	// reads them (accessPolicy). Without either, every key of the authorized keys file is admin.
	Users  yaml.Node `yaml:"users"`
	Access yaml.Node `yaml:"access"`
	// ConfigFile is the config file read, if any; a flag or BALEEN_CONFIG only.
	ConfigFile string `yaml:"-"`
	LogLevel   string `yaml:"log_level"`
	// KnownHosts is the OpenSSH known_hosts file that ssh:// dependency sources are checked against.
	KnownHosts string `yaml:"known_hosts"`
	// AllowGitProtocol lets dependency sources use git://.
	AllowGitProtocol bool `yaml:"allow_git_protocol"`
	// LocalSources are the directories on the server whose repositories dependency sources may name by
	// path or file:// URL; without them such sources are refused.
	LocalSources []string `yaml:"local_sources"`
	// MaxPushes caps the pushes that run at once (0: gitd's default).
	MaxPushes int `yaml:"max_pushes"`
	// GitMemoryLimitMB caps the address space of each git child, in MiB (0: gitd's default).
	GitMemoryLimitMB int64 `yaml:"git_memory_limit_mb"`
	// GitCredentials are the credentials for https:// dependency sources and mirrors, by host, each for
	// the projects it lists.
	GitCredentials map[string]GitLogin `yaml:"git_credentials"`
	// FetchKeyProjects are the projects (names or globs) whose ssh:// dependency sources and mirrors may
	// be fetched with the server's fetch key; nil when the file does not say (docs/config.md).
	FetchKeyProjects *[]string `yaml:"fetch_key_projects"`
	// Registries are the credentials for the registries builds push to, by host[:port].
	Registries map[string]Login `yaml:"registries"`
	// KeepBuilds is how many green builds per project keep their images (default 5).
	KeepBuilds int `yaml:"keep_builds"`
	// Retention says which builds are kept and LogLimitMB how much of a build's log (docs/config.md);
	// cmd/baleen/retention.go uses them.
	Retention  retention.Rules `yaml:"retention"`
	LogLimitMB int64           `yaml:"log_limit_mb"`
	// MinFreeMB is the free space, in MiB, the data directory must keep for a push to be taken: nil for
	// the default (1024), 0 for no check (cmd/baleen/retention.go).
	MinFreeMB *int64 `yaml:"min_free_mb"`
	// DeployKeepImages is how many releases' images each deploy host keeps per unit (default 3).
	DeployKeepImages int `yaml:"deploy_keep_images"`
	// Targets are the groups of hosts that baleen.yml's deploy.target names (docs/deploy.md).
	Targets map[string]TargetConfig `yaml:"targets"`
	// DeployGrace is how long a deployed unit must stay active before its health check (default 10s).
	DeployGrace time.Duration `yaml:"deploy_grace"`
	// HTTP is the web side: pages, API, badges and metrics (docs/web.md).
	HTTP HTTPConfig `yaml:"http"`
	// Notify and Mirrors are the notification sinks (docs/notify.md) and the followed repositories
	// (docs/forges.md); cmd/baleen/notify.go wires them.
	Notify  []notify.Sink           `yaml:"notify"`
	Mirrors map[string]forge.Mirror `yaml:"mirrors"`
	// Engines are the Docker engines builds are placed on (docs/engines.md); without them, the one engine
	// DOCKER_HOST names, with Concurrency build slots.
	Engines pool.Config `yaml:"engines"`
	// RetryOnEngineFailure is how many times a build whose engine stopped answering runs again on another
	// engine of Engines (docs/engines.md); 0: never.
	RetryOnEngineFailure int `yaml:"retry_on_engine_failure"`
}

// TargetConfig is one deploy target: the hosts and how to reach them.
type TargetConfig struct {
	User       string   `yaml:"user"`
	Identity   string   `yaml:"identity"`
	KnownHosts string   `yaml:"known_hosts"`
	Hosts      []string `yaml:"hosts"`
}

// Login is a user name and the file that holds its password or token.
type Login struct {
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
}

// GitLogin is a login for an https git host and the projects (names or globs) that may fetch with it.
// Required once users or access are configured; without them, a login that lists none is for every project.
type GitLogin struct {
	Login    `yaml:",inline"`
	Projects []string `yaml:"projects"`
}

// password reads a login's password file; a trailing newline is dropped.
func (l Login) password() (string, error) {
	b, err := os.ReadFile(l.PasswordFile)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// Credential says where a secret's value is: a file (preferred: it stays out of the config) or the server's
// environment.
type Credential struct {
	File string `yaml:"file"`
	Env  string `yaml:"env"`
	// Projects are the projects (names or globs) that may use the secret. Required once users or access
	// are configured; without them, a credential that lists none is for every project.
	Projects []string `yaml:"projects"`
}

// defaults are the settings nobody gave.
func defaults() Config {
	return Config{Data: "./baleen-data", Listen: ":2222", Concurrency: runtime.NumCPU(), ShutdownGrace: 5 * time.Minute, LogLevel: "info", KeepBuilds: 5}
}

// loadConfig reads the serve command line: flags, then BALEEN_* variables, then the config file.
func loadConfig(args []string, e env) (Config, error) {
	fl := flag.NewFlagSet("serve", flag.ContinueOnError)
	fl.SetOutput(e.stderr)
	var set Config
	fl.StringVar(&set.Data, "data", "", "data directory: repositories, database, artifacts, host key (env BALEEN_DATA; default ./baleen-data)")
	fl.StringVar(&set.Listen, "listen", "", "SSH listen address (env BALEEN_LISTEN; default :2222)")
	fl.StringVar(&set.AuthorizedKeys, "authorized-keys", "", "OpenSSH authorized_keys file of who may push (env BALEEN_AUTHORIZED_KEYS; default DATA/authorized_keys)")
	fl.StringVar(&set.AddressFile, "address-file", "", "write the address the server listens on to this file once it listens (for -listen 127.0.0.1:0)")
	configFile := fl.String("config", "", "YAML config file, see docs/config.md (env BALEEN_CONFIG)")
	httpFl := addHTTPFlags(fl)
	if err := fl.Parse(args); err != nil {
		return Config{}, err
	}
	if fl.NArg() > 0 {
		return Config{}, fmt.Errorf("serve takes no arguments, got %q", fl.Args())
	}
	fromEnv := Config{Data: e.getenv("BALEEN_DATA"), Listen: e.getenv("BALEEN_LISTEN"), AuthorizedKeys: e.getenv("BALEEN_AUTHORIZED_KEYS")}
	if *configFile == "" {
		*configFile = e.getenv("BALEEN_CONFIG")
	}
	c := defaults()
	var root *yaml.Node
	if *configFile != "" {
		var err error
		if root, err = readConfigFile(*configFile, &c); err != nil {
			return Config{}, err
		}
		c.ConfigFile = *configFile
	}
	for _, over := range []Config{fromEnv, set} {
		c.Data = pick(over.Data, c.Data)
		c.Listen = pick(over.Listen, c.Listen)
		c.AuthorizedKeys = pick(over.AuthorizedKeys, c.AuthorizedKeys)
	}
	c.AddressFile = set.AddressFile
	if c.AuthorizedKeys == "" {
		c.AuthorizedKeys = filepath.Join(c.Data, "authorized_keys")
	}
	c.HTTP = httpFl.apply(c.HTTP, e)
	if c.usersConfigured() { // users:, access: and the credentials' projects, checked before serving
		if _, err := access.ParseFile(c.ConfigFile); err != nil {
			return Config{}, err
		}
	}
	return c, locate(c.ConfigFile, root, c.validate())
}

func pick(over, base string) string {
	if over != "" {
		return over
	}
	return base
}

// maxConfigSize is the largest config file the server reads: far above any real one (users' keys inline
// included), far below what would strain start-up.
const maxConfigSize = 16 << 20

// configAliasBudget is how many nodes the config file may reach through YAML aliases, all together: a few
// reused anchors pass, a "billion laughs" file is refused without being expanded.
const configAliasBudget = 10000

// configLinePattern picks the line out of YAML's syntax errors ("yaml: line 3: ...").
var configLinePattern = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// configReader collects the problems of one config file, each at a position.
type configReader struct {
	file     string
	problems []configProblem
	aliased  int
	// reported holds the duplicate keys reported.
	reported map[*yaml.Node]bool
}

// configProblem is one problem of the config file; line 0 when it has no position.
type configProblem struct {
	line, col int
	msg       string
}

// readConfigFile reads the config file at path into c, over the defaults c holds, and returns the file's
// top node (nil for an empty file) for locate. Every problem says where it is and what is wrong, in
// words: unknown and duplicate keys, values of the wrong type, durations without a unit, bytes that are
// not UTF-8, more than one document, aliases that reach too far.
func readConfigFile(path string, c *Config) (*yaml.Node, error) {
	data, err := readAtMost(path, maxConfigSize)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parseConfig(path, data, c)
}

// parseConfig is readConfigFile on the content data of the file named file.
func parseConfig(file string, data []byte, c *Config) (*yaml.Node, error) {
	r := &configReader{file: file, reported: map[*yaml.Node]bool{}}
	root := r.decode(data)
	if root != nil && r.scan(root, false) {
		r.check(root, reflect.TypeOf(*c), "")
	}
	if err := r.err(); err != nil || root == nil {
		return nil, err
	}
	if err := root.Decode(c); err != nil { // check found nothing, so this is not expected
		return nil, fmt.Errorf("config %s: %w", file, err)
	}
	return root, nil
}

// readAtMost reads the file at path, refusing one larger than limit bytes.
func readAtMost(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: over the limit of %d bytes", path, limit)
	}
	return data, nil
}

func (r *configReader) errorf(n *yaml.Node, format string, args ...any) {
	p := configProblem{msg: fmt.Sprintf(format, args...)}
	if n != nil {
		p.line, p.col = n.Line, n.Column
	}
	r.problems = append(r.problems, p)
}

// err returns the problems in file order, one line each, or nil.
func (r *configReader) err() error {
	if len(r.problems) == 0 {
		return nil
	}
	slices.SortStableFunc(r.problems, func(a, b configProblem) int {
		return cmp.Or(cmp.Compare(a.line, b.line), cmp.Compare(a.col, b.col))
	})
	lines := make([]string, len(r.problems))
	for i, p := range r.problems {
		lines[i] = configPosition(r.file, p.line, p.col) + p.msg
	}
	return configError(strings.Join(lines, "\n"))
}

// configError is the problems of a config file, one line each; it wraps baleen.ErrInvalid.
type configError string

func (e configError) Error() string { return string(e) }

// Unwrap returns baleen.ErrInvalid: a bad config file is invalid input.
func (e configError) Unwrap() error { return baleen.ErrInvalid }

// configPosition is the start of a message about the config file at a line and column: "FILE: line L,
// column C: ", without the parts that are not known.
func configPosition(file string, line, col int) string {
	switch {
	case line <= 0:
		return file + ": "
	case col <= 0:
		return fmt.Sprintf("%s: line %d: ", file, line)
	}
	return fmt.Sprintf("%s: line %d, column %d: ", file, line, col)
}

// decode checks the bytes of data and reads its one YAML document; nil for an empty file or a problem.
func (r *configReader) decode(data []byte) (top *yaml.Node) {
	defer func() {
		if v := recover(); v != nil { // yaml reports some internal errors by panicking
			top = nil
			r.errorf(nil, "invalid YAML: %v", v)
		}
	}()
	if !r.checkBytes(data) {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc, next yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) { // io.EOF: an empty file
			r.syntaxError(err)
		}
		return nil
	}
	switch err := dec.Decode(&next); {
	case err == nil:
		r.errorf(&next, "a second YAML document: want exactly one (remove the '---')")
		return nil
	case !errors.Is(err, io.EOF):
		r.syntaxError(err)
		return nil
	}
	if len(doc.Content) == 0 || isNullNode(doc.Content[0]) {
		return nil
	}
	return doc.Content[0]
}

// syntaxError reports a YAML syntax error at the line it names.
func (r *configReader) syntaxError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := configLinePattern.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	r.problems = append(r.problems, configProblem{line: line, msg: "invalid YAML: " + msg})
}

// checkBytes refuses bytes that are not UTF-8 and control characters but tab, newline and carriage return,
// at their line and column; YAML's own messages for them say neither.
func (r *configReader) checkBytes(data []byte) bool {
	line, lineStart := 1, 0
	for i := 0; i < len(data); {
		c, size := utf8.DecodeRune(data[i:])
		var what string
		switch {
		case c == utf8.RuneError && size == 1:
			what = fmt.Sprintf("byte 0x%02x is not UTF-8: the config file is UTF-8 text", data[i])
		case c == 0:
			what = "a NUL byte: the config file is plain text"
		case c == '\n':
			line, lineStart = line+1, i+1
		case c != '\t' && c != '\r' && (c < 0x20 || c == 0x7f):
			what = fmt.Sprintf("a control character (U+%04X): the config file is plain text", c)
		}
		if what != "" {
			r.problems = append(r.problems, configProblem{line: line, col: utf8.RuneCount(data[lineStart:i]) + 1, msg: what})
			return false
		}
		i += size
	}
	return true
}

// scan walks the document once before it is checked: it counts the nodes reached through aliases, refusing the file past configAliasBudget. It returns false when the budget ran out.
func (r *configReader) scan(n *yaml.Node, aliased bool) bool {
	if aliased {
		if r.aliased++; r.aliased > configAliasBudget {
			return false
		}
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias != nil && !r.scan(n.Alias, true) {
			if !aliased {
				r.errorf(n, "alias *%s: aliases reach more than %d nodes; refusing to expand them", n.Value, configAliasBudget)
			}
			return false
		}
		return true
	}
	for _, c := range n.Content {
		if !r.scan(c, aliased) {
			return false
		}
	}
	return true
}

// derefNode follows an alias to the node it names.
func derefNode(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 8; i++ {
		n = n.Alias
	}
	return n
}

func isNullNode(n *yaml.Node) bool {
	n = derefNode(n)
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// keyPath appends key to the dotted path of a setting.
func keyPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// nodeKind says what a node is, for "want X, got Y" messages.
func nodeKind(n *yaml.Node) string {
	n = derefNode(n)
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Tag == "!!str":
		return strconv.Quote(n.Value)
	}
	return n.Value
}

var (
	yamlNodeType = reflect.TypeFor[yaml.Node]()
	durationType = reflect.TypeFor[time.Duration]()
)

// check compares the node n, at path, with the Go type t it is decoded into, and reports what does not fit:
// unknown keys, a list for a mapping, a word for a number, a duration without a unit. A null leaves the
// default. Sections kept as YAML (users, access) are checked by their own parser.
func (r *configReader) check(n *yaml.Node, t reflect.Type, path string) {
	v := derefNode(n)
	if t == yamlNodeType || isNullNode(n) {
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		r.check(n, t.Elem(), path)
	case reflect.Struct:
		if path == "" && v.Kind != yaml.MappingNode {
			r.errorf(n, "want a mapping of settings (data, listen, ...), got %s", nodeKind(n))
			return
		}
		r.eachPair(n, path, func(key, val *yaml.Node) {
			fields := yamlFields(t)
			i := slices.IndexFunc(fields, func(f yamlField) bool { return f.name == key.Value })
			if i < 0 {
				r.unknownKey(key, path, fields)
				return
			}
			r.check(val, fields[i].typ, keyPath(path, key.Value))
		})
	case reflect.Map:
		r.eachPair(n, path, func(key, val *yaml.Node) { r.check(val, t.Elem(), keyPath(path, key.Value)) })
	case reflect.Slice:
		if v.Kind != yaml.SequenceNode {
			r.errorf(n, "%s: want a list, got %s", path, nodeKind(n))
			return
		}
		for i, e := range v.Content {
			r.check(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		r.checkScalar(n, t, path)
	}
}

// eachPair calls f with each key and value of the mapping n, at path, after checking that n is one and that
// its keys are strings.
func (r *configReader) eachPair(n *yaml.Node, path string, f func(key, val *yaml.Node)) {
	v := derefNode(n)
	if v.Kind != yaml.MappingNode {
		r.errorf(n, "%s: want a mapping, got %s", path, nodeKind(n))
		return
	}
	first := map[string]int{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		key := derefNode(v.Content[i])
		line, dup := first[key.Value]
		switch {
		case key.Kind != yaml.ScalarNode:
			r.errorf(v.Content[i], "%swant a string key, got %s", strings.TrimPrefix(path+": ", ": "), nodeKind(key))
		case key.Tag == "!!merge":
			r.errorf(v.Content[i], "%smerge keys (<<) are not supported; write the keys out", strings.TrimPrefix(path+": ", ": "))
		case dup && !r.reported[v.Content[i]]: // once, though aliases may lead here again
			r.reported[v.Content[i]] = true
			r.errorf(v.Content[i], "%s: duplicate key (first at line %d)", keyPath(path, key.Value), line)
		case !dup:
			first[key.Value] = v.Content[i].Line
			f(v.Content[i], v.Content[i+1])
		}
	}
}

func (r *configReader) unknownKey(key *yaml.Node, path string, fields []yamlField) {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	// "field X not found" is what earlier versions said; scripts may look for it.
	what := fmt.Sprintf("%s: unknown key (field %s not found)", keyPath(path, key.Value), key.Value)
	if s := spec.Suggest(key.Value, names); s != "" {
		r.errorf(key, "%s; did you mean %s?", what, s)
		return
	}
	r.errorf(key, "%s; want one of %s", what, strings.Join(names, ", "))
}

// checkScalar checks a value decoded into a string, a number, a boolean or a duration.
func (r *configReader) checkScalar(n *yaml.Node, t reflect.Type, path string) {
	v := derefNode(n)
	want := map[reflect.Kind]string{reflect.Bool: "true or false", reflect.String: "a string"}[t.Kind()]
	ok := v.Kind == yaml.ScalarNode
	switch {
	case t == durationType:
		want = "a duration with a unit, such as 30s or 5m"
		_, err := time.ParseDuration(v.Value)
		ok = ok && v.Tag == "!!str" && err == nil
	case t.Kind() == reflect.Bool:
		ok = ok && v.Tag == "!!bool"
	case t.Kind() != reflect.String:
		want = "a whole number"
		ok = ok && v.Tag == "!!int" && v.Decode(reflect.New(t).Interface()) == nil
	}
	if !ok {
		r.errorf(n, "%s: want %s, got %s", path, want, nodeKind(n))
	}
}

// yamlField is a key of a mapping decoded into a struct, and the type of its value.
type yamlField struct {
	name string
	typ  reflect.Type
}

// yamlFields lists the keys of struct type t as yaml decodes them, inline structs' among them, in order.
func yamlFields(t reflect.Type) []yamlField {
	var out []yamlField
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case !f.IsExported() || name == "-":
		case opts == "inline":
			out = append(out, yamlFields(f.Type)...)
		case name == "":
			out = append(out, yamlField{strings.ToLower(f.Name), f.Type})
		default:
			out = append(out, yamlField{name, f.Type})
		}
	}
	return out
}

// locate gives each problem of err whose text starts with a key path of the config file ("targets.prod:
// ...") the file, line and column of that key; err is validate's, whose problems name keys, not lines.
func locate(file string, root *yaml.Node, err error) error {
	if err == nil || root == nil {
		return err
	}
	leaves := flatten(err)
	for i, e := range leaves {
		if n := findKey(root, e.Error()); n != nil {
			leaves[i] = fmt.Errorf("%s%w", configPosition(file, n.Line, n.Column), e)
		}
	}
	return errors.Join(leaves...)
}

// flatten lists the problems errors.Join put together in err, and err itself when it is one.
func flatten(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var msgs []string
	var out []error
	for _, e := range j.Unwrap() {
		if e != nil {
			msgs = append(msgs, e.Error())
			out = append(out, flatten(e)...)
		}
	}
	if strings.Join(msgs, "\n") != err.Error() { // not a join: one error of its own words
		return []error{err}
	}
	return out
}

// namedEntry is a list entry followed by its name, as the notify section's messages give it
// ("notify[0] (chat)").
var namedEntry = regexp.MustCompile(`(\[\d+\]) \([^)]*\)`)

// findKey returns the node of the longest key path msg starts with, before a ": ", or nil.
func findKey(root *yaml.Node, msg string) *yaml.Node {
	var found *yaml.Node
	for i := strings.Index(msg, ": "); i >= 0; {
		// "engines.e: slots: ..." names engines.e.slots.
		path := namedEntry.ReplaceAllString(msg[:i], "$1")
		if n := cmp.Or(resolve(root, strings.ReplaceAll(path, ": ", ".")), resolve(root, path)); n != nil {
			found = n
		}
		j := strings.Index(msg[i+2:], ": ")
		if j < 0 {
			break
		}
		i += 2 + j
	}
	return found
}

// resolve follows a key path ("targets.prod.hosts[1]", keys may hold dots) from n: it returns the value's
// node when the value is a scalar, its key's node otherwise; nil when the path is not in the file.
func resolve(n *yaml.Node, path string) *yaml.Node {
	v := derefNode(n)
	switch {
	case v.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(v.Content); i += 2 {
			rest, ok := strings.CutPrefix(path, v.Content[i].Value)
			switch {
			case !ok:
			case rest == "" && derefNode(v.Content[i+1]).Kind == yaml.ScalarNode:
				return v.Content[i+1]
			case rest == "":
				return v.Content[i]
			case rest[0] == '.' || rest[0] == '[':
				if found := resolve(v.Content[i+1], strings.TrimPrefix(rest, ".")); found != nil {
					return found
				}
			}
		}
	case v.Kind == yaml.SequenceNode && strings.HasPrefix(path, "["):
		idx, rest, _ := strings.Cut(path[1:], "]")
		i, err := strconv.Atoi(idx)
		if err != nil || i < 0 || i >= len(v.Content) {
			return nil
		}
		if rest == "" {
			return v.Content[i]
		}
		return resolve(v.Content[i], strings.TrimPrefix(rest, "."))
	}
	return nil
}

func (c Config) validate() error {
	var errs []error
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("concurrency: want 1 or more, got %d", c.Concurrency))
	}
	if c.DeployGrace < 0 {
		errs = append(errs, fmt.Errorf("deploy_grace: want a duration of 0 or more, got %s", c.DeployGrace))
	}
	if c.MaxPushes < 0 || c.GitMemoryLimitMB < 0 {
		errs = append(errs, fmt.Errorf("max_pushes, git_memory_limit_mb: want 0 (the default) or more"))
	}
	if c.Engines != nil {
		if err := c.Engines.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.RetryOnEngineFailure < 0 || c.RetryOnEngineFailure > 0 && len(c.Engines) < 2 {
		errs = append(errs, fmt.Errorf("retry_on_engine_failure: want 0, or 1 or more with two engines or more under engines:, got %d", c.RetryOnEngineFailure))
	}
	if c.KeepBuilds < 1 {
		errs = append(errs, fmt.Errorf("keep_builds: want 1 or more, got %d", c.KeepBuilds))
	}
	errs = append(errs, c.validateRetention())
	if c.ShutdownGrace < 0 {
		errs = append(errs, fmt.Errorf("shutdown_grace: want a duration of 0 or more, got %s", c.ShutdownGrace))
	}
	for name, cr := range c.Credentials {
		if (cr.File == "") == (cr.Env == "") {
			errs = append(errs, fmt.Errorf("credentials.%s: give exactly one of file or env", name))
		}
		errs = append(errs, checkGlobs("credentials."+name+".projects", cr.Projects))
	}
	for host, l := range c.GitCredentials {
		errs = append(errs, checkGlobs("git_credentials."+host+".projects", l.Projects))
	}
	if c.FetchKeyProjects != nil {
		errs = append(errs, checkGlobs("fetch_key_projects", *c.FetchKeyProjects))
	}
	for i, d := range c.LocalSources {
		if !filepath.IsAbs(d) {
			errs = append(errs, fmt.Errorf("local_sources[%d]: %q: want an absolute directory", i, d))
		}
	}
	for _, group := range []struct {
		key    string
		logins map[string]Login
	}{{"git_credentials", c.gitLogins()}, {"registries", c.Registries}} {
		for host, l := range group.logins {
			if l.Username == "" || l.PasswordFile == "" {
				errs = append(errs, fmt.Errorf("%s.%s: give username and password_file", group.key, host))
			}
		}
	}
	for name, t := range c.Targets {
		if len(t.Hosts) == 0 {
			errs = append(errs, fmt.Errorf("targets.%s.hosts: list at least one host (\"host:port\" or \"local\")", name))
		}
		remote := false
		for _, h := range t.Hosts {
			remote = remote || h != "local"
		}
		if remote && (t.User == "" || t.Identity == "" || t.KnownHosts == "") {
			errs = append(errs, fmt.Errorf("targets.%s: give user, identity and known_hosts (an unknown host key is refused)", name))
		}
	}
	errs = append(errs, c.validateNames(), c.HTTP.validate())
	errs = append(errs, c.validateIntegrations())
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level: want debug, info, warn or error, got %q", c.LogLevel))
	}
	return errors.Join(errs...)
}

// credentialNamePattern is what a baleen.yml may name under credentials: a shell variable's name, since the
// value reaches the containers as one.
var credentialNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// validateNames checks what reaches a listener, the containers' environment and SSH, and what baleen.yml
// must be able to name: the listen address, the credentials' names, the registries, the deploy targets and
// their hosts.
func (c Config) validateNames() error {
	var errs []error
	if c.Data == "" { // "data: ''" would put the repositories and the database in the working directory
		errs = append(errs, errors.New("data: want a directory, got an empty string"))
	}
	if !isAddress(c.Listen, 0) {
		errs = append(errs, fmt.Errorf("listen: %q: want [host]:port, such as :2222 or 127.0.0.1:2222", c.Listen))
	}
	for name := range c.Credentials {
		if !credentialNamePattern.MatchString(name) {
			errs = append(errs, fmt.Errorf("credentials.%s: %q is not a variable name (letters, digits and '_', not starting with a digit): no baleen.yml could name it", name, name))
		}
	}
	for name := range c.Registries {
		if name == "" || strings.Contains(name, "://") || strings.ContainsFunc(name, isSpaceOrControl) {
			errs = append(errs, fmt.Errorf("registries.%s: want host[:port][/namespace] as baleen.yml's push.registry gives it, without a scheme", name))
		}
	}
	for host := range c.GitCredentials {
		if host == "" || strings.ContainsAny(host, "/@") || strings.ContainsFunc(host, isSpaceOrControl) {
			errs = append(errs, fmt.Errorf("git_credentials.%s: want the host[:port] of https:// sources, without a scheme or path", host))
		}
	}
	return errors.Join(append(errs, c.validateTargets())...)
}

// validateTargets checks the deploy targets' names, which baleen.yml's deploy.target gives, and their hosts,
// which SSH dials.
func (c Config) validateTargets() error {
	var errs []error
	for name, t := range c.Targets {
		if name == "" || strings.ContainsFunc(name, isSpaceOrControl) {
			errs = append(errs, fmt.Errorf("targets.%s: %q is not a name baleen.yml's deploy.target can give: no spaces or control characters", name, name))
		}
		seen := map[string]bool{}
		for i, h := range t.Hosts {
			key := fmt.Sprintf("targets.%s.hosts[%d]", name, i)
			switch {
			case h != "local" && !isAddress(h, 1):
				errs = append(errs, fmt.Errorf("%s: %q: want \"host:port\" or \"local\"", key, h))
			case seen[h]:
				errs = append(errs, fmt.Errorf("%s: %q is listed twice", key, h))
			}
			seen[h] = true
		}
	}
	return errors.Join(errs...)
}

// isAddress reports whether addr is host:port with a port from lowest to 65535 and a host that is empty
// (only when lowest is 0: every address of the machine) or a name or address, not an ssh option.
func isAddress(addr string, lowest int) bool {
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	return err == nil && perr == nil && n >= lowest && n <= 65535 && (host != "" || lowest == 0) &&
		!strings.HasPrefix(host, "-") && !strings.ContainsFunc(host, isSpaceOrControl)
}

// isSpaceOrControl reports whether r is white space or a control character.
func isSpaceOrControl(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }

// checkGlobs refuses what is not a project name or glob in globs, the value of key.
func checkGlobs(key string, globs []string) error {
	var errs []error
	for _, g := range globs {
		if _, err := path.Match(g, ""); err != nil || strings.Contains(g, "/") {
			errs = append(errs, fmt.Errorf("%s: %q is not a project name or glob", key, g))
		}
	}
	return errors.Join(errs...)
}

// gitLogins are the logins of git_credentials without their projects.
func (c Config) gitLogins() map[string]Login {
	logins := map[string]Login{}
	for host, l := range c.GitCredentials {
		logins[host] = l.Login
	}
	return logins
}

// secret returns a credential's value, read when a build asks for it so that a rotated file takes effect
// without a restart.
func (c Config) secret(getenv func(string) string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		cr, ok := c.Credentials[name]
		if !ok {
			return "", false
		}
		if cr.Env != "" {
			v := getenv(cr.Env)
			return v, v != ""
		}
		b, err := os.ReadFile(cr.File)
		if err != nil {
			return "", false
		}
		v := strings.TrimRight(string(b), "\r\n")
		return v, v != ""
	}
}

// registryAuth returns the credentials of a registry from the config, reading the password file when a
// build pushes, so that a rotated password takes effect without a restart. A registry without an entry
// gets nil: anonymous.
func (c Config) registryAuth(logger *slog.Logger) func(string) *baleen.RegistryAuth {
	return func(registry string) *baleen.RegistryAuth {
		l, ok := c.Registries[registry]
		if !ok {
			return nil
		}
		pw, err := l.password()
		if err != nil {
			logger.Error("registry password", "registry", registry, "err", err)
			return &baleen.RegistryAuth{Username: l.Username, ServerAddress: registry}
		}
		return &baleen.RegistryAuth{Username: l.Username, Password: pw, ServerAddress: registry}
	}
}

// orEvery is globs, or every project when the config gave no projects key (an explicit [] is for none).
func orEvery(globs []string) []string {
	if globs == nil { // no projects key; an explicit [] is for none
		return []string{"*"}
	}
	return globs
}

// usersConfigured reports whether the config file names users or access rules.
func (c Config) usersConfigured() bool {
	return c.Users.Kind != 0 || c.Access.Kind != 0
}

// accessPolicy builds who may do what: with users or access rules in the config file, package access reads
// them (and every credential and git login must then list its projects, and fetch_key_projects be given
// with known_hosts); without them, every key of the authorized keys file is admin, and a credential or git
// login that lists no projects is for every project, as is the fetch key without fetch_key_projects.
func (c Config) accessPolicy(logger *slog.Logger) (*access.Policy, error) {
	ac := access.Config{Credentials: map[string][]string{}, GitCredentials: map[string][]string{}, FetchKey: []string{"*"}}
	if c.usersConfigured() {
		var err error
		if ac, err = access.ParseFile(c.ConfigFile); err != nil {
			return nil, err
		}
	} else {
		for name, cr := range c.Credentials {
			ac.Credentials[name] = orEvery(cr.Projects)
		}
		for host, l := range c.GitCredentials {
			ac.GitCredentials[host] = orEvery(l.Projects)
		}
		if c.FetchKeyProjects != nil {
			ac.FetchKey = *c.FetchKeyProjects
		}
	}
	return access.New(access.Options{Config: ac, AuthorizedKeys: c.AuthorizedKeys, Logger: logger}), nil
}
