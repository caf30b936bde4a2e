package spec

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// TestBadInput refuses, each with a line and column, the kinds of input that have no place in a baleen.yml
// and that YAML's parser refused without a position (or, for tags, accepted silently).
func TestBadInput(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"nesting deeper than 10,000", goodBuild + "deploy: {units: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "}\n",
			"baleen.yml:3:10016: collections nest deeper than 10000 levels: a baleen.yml needs a handful"},
		{"not UTF-8", goodBuild + "test:\n  command: caf\xe9\n", "baleen.yml:4:15: byte 0xe9 is not UTF-8: a baleen.yml is UTF-8 text"},
		{"NUL", goodBuild + "test:\n  command: a\x00b\n", "baleen.yml:4:13: a NUL byte: a baleen.yml is plain text"},
		{"control character", "build:\n  api: a\x01b\n", "baleen.yml:2:9: a control character (U+0001): a baleen.yml is plain text"},
		{"ANSI escape", goodBuild + "test:\n  command: \x1b[31mred\n",
			"baleen.yml:4:12: an escape character (U+001B, which starts ANSI terminal sequences): a baleen.yml is plain text"},
		{"ANSI escape written as an escape", goodBuild + "test:\n  command: \"\\e[2Jx\"\n",
			`baleen.yml:4:12: "\x1b[2Jx" holds an escape character (U+001B, which starts ANSI terminal sequences): write plain text`},
		{"C1 control in a key", goodBuild + "test:\n  \u0085x: 1\n", "baleen.yml:4:3: a control character (U+0085): a baleen.yml is plain text"},
		{"python object tag", goodBuild + "test:\n  command: !!python/object:os.system x\n",
			"baleen.yml:4:12: the YAML tag !!python/object:os.system is not supported: a baleen.yml holds plain strings, numbers, booleans, lists and mappings"},
		{"local tag", "build:\n  api: !include other.yml\n",
			"baleen.yml:2:8: the YAML tag !include is not supported: a baleen.yml holds plain strings, numbers, booleans, lists and mappings"},
		{"binary tag", goodBuild + "test:\n  env: {A: !!binary aGVsbG8=}\n",
			"baleen.yml:4:12: the YAML tag !!binary is not supported: a baleen.yml holds plain strings, numbers, booleans, lists and mappings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("baleen.yml", []byte(tt.in))
			if err == nil {
				t.Fatalf("Parse: got no error, want %q", tt.want)
			}
			if !errors.Is(err, baleen.ErrInvalid) {
				t.Errorf("errors.Is(err, baleen.ErrInvalid): got false, want true")
			}
			if got := strings.Split(err.Error(), "\n")[0]; got != tt.want {
				t.Errorf("Parse: got\n%s\nwant first\n%s", err, tt.want)
			}
			var errs Errors
			if errors.As(err, &errs) && (errs[0].Line < 1 || errs[0].Col < 1) {
				t.Errorf("Parse: got position %d:%d, want a line and a column", errs[0].Line, errs[0].Col)
			}
		})
	}
}

// TestPlainValuesStillParse checks that what the bad-input checks let through still parses: tabs and
// multi-line commands, a byte order mark, standard tags written out, a date-like string.
func TestPlainValuesStillParse(t *testing.T) {
	in := "\ufeffbuild:\n  api: !!str .\ntest:\n  command: |\n    set -e\n    echo\t'done'\n  env: {DAY: 2024-01-02, N: !!int 3}\n"
	s, err := Parse("baleen.yml", []byte(in))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got, want := s.Test.Env["DAY"], "2024-01-02"; got != want {
		t.Errorf("env DAY: got %q, want %q", got, want)
	}
	if got, want := s.Test.Command.Shell, "set -e\necho\t'done'\n"; got != want {
		t.Errorf("command: got %q, want %q", got, want)
	}
}

// TestAllAtOnce checks on files that mix several kinds of mistakes that every one is reported in one run:
// no problem hides another.
func TestAllAtOnce(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"an invalid hostname does not hide a typo under it", goodBuild + "depends:\n  DB:\n    image: postgres:16\n    redy: {command: x}\n", []string{
			`baleen.yml:4:3: depends.DB: "DB" is not a valid hostname: use lowercase letters, digits and '-', at most 63`,
			"baleen.yml:6:5: depends.DB.redy: unknown key; did you mean ready?"}},
		{"an unknown top-level key does not hide a typo elsewhere", "biuld:\n  api: .\ntest:\n  image: ap\n", []string{
			"baleen.yml:1:1: biuld: unknown key; did you mean build?",
			`baleen.yml:4:10: test.image: "ap" is not one of the build images; did you mean api? (for an outside image, give its tag: ap:latest)`}},
		{"a misspelt section is checked as the one it meant", goodBuild + "tset:\n  timeout: soon\n  comand: x\n", []string{
			"baleen.yml:3:1: tset: unknown key; did you mean test?",
			`baleen.yml:4:12: test.timeout: "soon" is not a duration: want a duration such as 90s, 5m or 1h30m`,
			"baleen.yml:5:3: test.comand: unknown key; did you mean command?"}},
		{"a bad image name does not hide its bad context", "build:\n  Api: /abs\n  web: {contxt: w}\n", []string{
			`baleen.yml:2:3: build.Api: "Api" is not a valid image name: use lowercase letters and digits, separated by '.', '_', '__', '-' or '/'`,
			`baleen.yml:2:8: build.Api: build context "/abs": want a relative path, got an absolute one`,
			"baleen.yml:3:9: build.web.contxt: unknown key; did you mean context?"}},
		{"a bad unit name does not hide its typo", goodBuild + "deploy:\n  target: prod\n  units:\n    Web:\n      image: apii\n      prots: [80]\n", []string{
			`baleen.yml:6:5: deploy.units.Web: "Web" is not a valid unit name: use lowercase letters, digits, '.', '_' and '-', at most 63, without ".."`,
			`baleen.yml:7:14: deploy.units.Web.image: "apii" is not one of the build images; did you mean api?`,
			"baleen.yml:8:7: deploy.units.Web.prots: unknown key; did you mean ports?"}},
		{"syntax-level and meaning-level mistakes together", "build:\n  api: .\n  api: web\ntest: {env: {1X: a}, image: !custom x}\nstages: [a]\n", []string{
			`baleen.yml:3:3: duplicate key "api" (first at line 2)`,
			"baleen.yml:4:29: the YAML tag !custom is not supported: a baleen.yml holds plain strings, numbers, booleans, lists and mappings",
			"baleen.yml:5:1: stages: unknown key; want one of build, depends, test, credentials, artifacts, push, deploy, runs_on",
			`baleen.yml:4:14: test.env.1X: "1X" is not a valid variable name: use letters, digits and '_', not starting with a digit`}},
		{"after: unknown, itself, twice, and a circle", goodBuild + "depends:\n  db: {image: postgres, after: [cache]}\n  cache: {image: redis, after: [db, db]}\n  web: {image: api, after: [web, dbb]}\n", []string{
			`baleen.yml:4:33: depends.db.after: the dependencies wait for each other in a circle: db -> cache -> db`,
			"baleen.yml:5:37: depends.cache.after[1]: db is listed twice",
			"baleen.yml:6:29: depends.web.after[0]: a dependency cannot wait for itself",
			`baleen.yml:6:34: depends.web.after[1]: "dbb" is not one of the dependencies; did you mean db?`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("baleen.yml", []byte(tt.in))
			if err == nil {
				t.Fatalf("Parse: got no error, want %d problems", len(tt.want))
			}
			got := strings.Split(err.Error(), "\n")
			want := append([]string(nil), tt.want...)
			sortByPosition(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Parse: problems differ (-want +got):\n%s", diff)
			}
		})
	}
}

// sortByPosition orders problem lines as Errors does, by line then column, so that a table can list them
// in the order they are easiest to read.
func sortByPosition(lines []string) {
	es := make(Errors, len(lines))
	for i, l := range lines {
		var line, col int
		fmt.Sscanf(l, "baleen.yml:%d:%d:", &line, &col)
		es[i] = &Error{Line: line, Col: col, Msg: l}
	}
	es.sorted()
	for i, e := range es {
		lines[i] = e.Msg
	}
}

// TestAfter checks that a valid after list is kept as written.
func TestAfter(t *testing.T) {
	s, err := Parse("baleen.yml", []byte(goodBuild+"depends:\n  db: {image: postgres}\n  migrate: {image: api, after: [db]}\n  web: {image: api, after: [migrate, db]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, d := range s.Depends {
		got[d.Name] = d.After
	}
	want := map[string][]string{"db": nil, "migrate": {"db"}, "web": {"migrate", "db"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after (-want +got):\n%s", diff)
	}
}

// TestTagTypoWarning checks that a literal push tag one edit away from a keyword is kept but warned about.
func TestTagTypoWarning(t *testing.T) {
	f, err := ParseFile("baleen.yml", []byte(goodBuild+"push:\n  registry: r.example.com\n  tags: [comit, Latest, bulid, main, v1.2, shorts]\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range f.Warnings {
		got = append(got, w.Error())
	}
	want := []string{
		`baleen.yml:5:10: warning: push.tags[0]: "comit" is a literal tag; did you mean commit?`,
		`baleen.yml:5:17: warning: push.tags[1]: "Latest" is a literal tag; did you mean latest?`,
		`baleen.yml:5:25: warning: push.tags[2]: "bulid" is a literal tag; did you mean build?`,
		`baleen.yml:5:44: warning: push.tags[5]: "shorts" is a literal tag; did you mean short?`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"comit", "Latest", "bulid", "main", "v1.2", "shorts"}, f.Spec.Push.Tags); diff != "" {
		t.Errorf("tags are kept as written (-want +got):\n%s", diff)
	}
}

// badNames is a baleen.yml of about size bytes in which every name is bad: build images, dependency
// hostnames, variables, credentials and references to images that are not built.
func badNames(size int) []byte {
	var b strings.Builder
	b.WriteString("build:\n")
	for i := 0; b.Len() < size/4; i++ {
		fmt.Fprintf(&b, "  Image_%d: /abs/%d\n", i, i)
	}
	b.WriteString("depends:\n")
	for i := 0; b.Len() < size/2; i++ {
		fmt.Fprintf(&b, "  Host_%d: {image: Imag_%d, after: [nohost%d], env: {%d: x}}\n", i, i, i, i)
	}
	b.WriteString("credentials:\n")
	for i := 0; b.Len() < 3*size/4; i++ {
		fmt.Fprintf(&b, "  - bad-name-%d\n", i)
	}
	b.WriteString("test:\n  env:\n")
	for i := 0; b.Len() < size-100; i++ {
		fmt.Fprintf(&b, "    %d_VAR: x\n", i)
	}
	return []byte(b.String())
}

// TestErrorCap checks that a file full of bad names gets its first MaxErrors problems and one last line
// saying how many more there were, and that the caps on images, dependencies and list entries are said.
func TestErrorCap(t *testing.T) {
	data := badNames(MaxSize)
	if len(data) > MaxSize {
		t.Fatalf("badNames made %d bytes, over MaxSize", len(data))
	}
	_, err := Parse("baleen.yml", data)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Parse: got %v, want Errors", err)
	}
	if got, want := len(errs), MaxErrors+1; got != want {
		t.Fatalf("got %d problems, want %d (the cap and the line saying how many more)", got, want)
	}
	last := errs[len(errs)-1].Msg
	var more int
	if _, err := fmt.Sscanf(last, "... and %d more problems (only the first 50 are shown)", &more); err != nil || more <= 0 {
		t.Errorf("last line: got %q, want \"... and N more problems (only the first 50 are shown)\"", last)
	}
	for _, want := range []string{"build: ", "images, over the limit of 100"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%s", want, err)
		}
	}
	// The same file cut under the cap: every problem is there, none counted as more.
	_, err = Parse("baleen.yml", []byte("build:\n  A: .\n  B: .\n"))
	if errors.As(err, &errs); len(errs) != 2 || strings.Contains(err.Error(), "more problem") {
		t.Errorf("two problems: got\n%v\nwant both and no \"more\" line", err)
	}
}

// TestEntryCaps checks the cap on the entries of one list and of one mapping, and on dependencies.
func TestEntryCaps(t *testing.T) {
	list := goodBuild + "credentials: [" + strings.Repeat("A,", MaxEntries) + "A]\n"
	deps := goodBuild + "depends:\n"
	for i := 0; i <= MaxDepends; i++ {
		deps += fmt.Sprintf("  d%d: {image: postgres}\n", i)
	}
	for _, tt := range []struct{ name, in, want string }{
		{"list", list, "baleen.yml:3:14: credentials: 1001 entries, over the limit of 1000"},
		{"dependencies", deps, "baleen.yml:4:3: depends: 101 dependencies, over the limit of 100"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("baleen.yml", []byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse: got\n%v\nwant a line %q", err, tt.want)
			}
		})
	}
}

// BenchmarkParseBadNames checks a 1 MiB baleen.yml full of bad names, against the baseline of decoding the
// same file into YAML nodes alone, in the same run: x-yaml-decode is how many times the decode's time the
// whole check takes (the check is linear in the file's size when it stays a small constant).
func BenchmarkParseBadNames(b *testing.B) {
	data := badNames(MaxSize)
	var parse, decode float64
	for i := 0; i < b.N; i++ {
		start := b.Elapsed()
		if _, err := Parse("baleen.yml", data); err == nil {
			b.Fatal("Parse: got no error")
		}
		mid := b.Elapsed()
		var n yaml.Node
		if err := yaml.Unmarshal(data, &n); err != nil {
			b.Fatal(err)
		}
		parse += float64(mid - start)
		decode += float64(b.Elapsed() - mid)
	}
	b.ReportMetric(parse/float64(b.N), "check-ns/op")
	b.ReportMetric(decode/float64(b.N), "decode-ns/op")
	b.ReportMetric(parse/decode, "x-yaml-decode")
}
