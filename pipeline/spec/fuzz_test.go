package spec

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// FuzzParse checks that Parse never panics, that its problems are well formed, and that whatever it
// accepts keeps its promises and survives a round trip: rendered back to YAML, it parses to the same Spec.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/good/*.yml")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"", "~", "- a", "build: {}", "build: {api: .}\n---\n", "build: {api: [a]}", "build: {a: &x ., b: *x}",
		"build: {api: .}\ntest: {timeout: 90, image: apo}", "build: {api: .}\ndeploy: &d {units: {x: *d}}",
		"build: {api: .}\ndepends: {db: {src: users, minhash: abcd, rebuild_dependents: true}}",
		"build: {api: .}\ndepends: {a: {image: x, after: [b]}, b: {image: y, after: [a, a]}}",
		"build: {api: !!python/object x}", "build: {api: \"\\e[31m\"}", "biuld: {api: .}\ntest: {image: ap}",
		"build: {api: .}\npush: {registry: r.example.com, tags: [comit]}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("baleen.yml", data)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("Parse: got %T %v, want a non-empty Errors", err, err)
			}
			if !errors.Is(err, baleen.ErrInvalid) {
				t.Fatal("errors.Is(err, baleen.ErrInvalid): got false, want true")
			}
			for _, e := range errs {
				if e.File != "baleen.yml" || e.Line < 0 || e.Col < 0 || e.Msg == "" {
					t.Fatalf("malformed problem %+v", e)
				}
			}
			if s != nil {
				t.Fatal("Parse: got a Spec with an error, want nil")
			}
			return
		}
		checkInvariants(t, s)
		if _, err := json.Marshal(s); err != nil {
			t.Fatalf("json.Marshal(Spec): %v", err)
		}
		out, err := render(s)
		if err != nil {
			t.Fatalf("render: %v", err)
		}
		again, err := Parse("baleen.yml", out)
		if err != nil {
			t.Fatalf("Parse(render(Spec)): got %v, want no error; rendered:\n%s", err, out)
		}
		if diff := cmp.Diff(s, again); diff != "" {
			t.Fatalf("Parse(render(Spec)) differs (-first +second):\n%s\nrendered:\n%s", diff, out)
		}
	})
}

// render writes a Spec back as a baleen.yml, in the long forms, every default written out.
func render(s *baleen.Spec) ([]byte, error) {
	top := mapping()
	build := mapping()
	for _, b := range s.Build {
		ib := mapping()
		add(ib, "context", str(b.Context))
		add(ib, "dockerfile", str(b.Dockerfile))
		if b.Args != nil {
			add(ib, "args", strMap(b.Args))
		}
		if b.Target != "" {
			add(ib, "target", str(b.Target))
		}
		add(build, b.Name, ib)
	}
	add(top, "build", build)
	if len(s.Depends) > 0 {
		deps := mapping()
		for _, d := range s.Depends {
			dn := mapping()
			for _, kv := range [][2]string{{"image", d.Image}, {"src", d.Src}, {"branch", d.Branch}, {"minhash", d.MinHash}} {
				if kv[1] != "" {
					add(dn, kv[0], str(kv[1]))
				}
			}
			if d.Env != nil {
				add(dn, "env", strMap(d.Env))
			}
			if !d.Command.IsZero() {
				add(dn, "command", command(d.Command))
			}
			ready := mapping()
			if !d.Ready.Command.IsZero() {
				add(ready, "command", command(d.Ready.Command))
			}
			add(ready, "timeout", str(d.Ready.Timeout.String()))
			add(dn, "ready", ready)
			if d.After != nil {
				add(dn, "after", strList(d.After))
			}
			if d.RebuildDependents != nil {
				b := "false"
				if *d.RebuildDependents {
					b = "true"
				}
				add(dn, "rebuild_dependents", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: b})
			}
			add(deps, d.Name, dn)
		}
		add(top, "depends", deps)
	}
	test := mapping()
	add(test, "image", str(s.Test.Image))
	if !s.Test.Command.IsZero() {
		add(test, "command", command(s.Test.Command))
	}
	if s.Test.Env != nil {
		add(test, "env", strMap(s.Test.Env))
	}
	if s.Test.Workdir != "" {
		add(test, "workdir", str(s.Test.Workdir))
	}
	add(test, "timeout", str(s.Test.Timeout.String()))
	add(top, "test", test)
	if s.Credentials != nil {
		add(top, "credentials", strList(s.Credentials))
	}
	art := mapping()
	for _, kv := range []struct {
		key   string
		paths []string
	}{{"xunit", s.Artifacts.XUnit}, {"coverage", s.Artifacts.Coverage}, {"coverage_html", s.Artifacts.CoverageHTML}, {"files", s.Artifacts.Files}} {
		if kv.paths != nil {
			add(art, kv.key, strList(kv.paths))
		}
	}
	add(top, "artifacts", art)
	if s.Push != nil {
		push := mapping()
		add(push, "registry", str(s.Push.Registry))
		if s.Push.Images != nil {
			add(push, "images", strList(s.Push.Images))
		}
		if s.Push.Tags != nil {
			add(push, "tags", strList(s.Push.Tags))
		}
		add(top, "push", push)
	}
	if s.Deploy != nil {
		var raw yaml.Node
		if err := raw.Encode(s.Deploy.Raw); err != nil {
			return nil, err
		}
		add(top, "deploy", &raw)
	}
	return yaml.Marshal(top)
}

func mapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"} }

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func add(m *yaml.Node, key string, v *yaml.Node) { m.Content = append(m.Content, str(key), v) }

func strList(l []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, s := range l {
		n.Content = append(n.Content, str(s))
	}
	return n
}

func strMap(m map[string]string) *yaml.Node {
	n := mapping()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		add(n, k, str(m[k]))
	}
	return n
}

func command(c baleen.Command) *yaml.Node {
	if c.Shell != "" {
		return str(c.Shell)
	}
	return strList(c.Exec)
}
