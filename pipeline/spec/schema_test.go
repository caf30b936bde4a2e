package spec

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

const (
	schemaFile = "../../docs/baleen.schema.json"
	docFile    = "../../docs/baleen-yml.md"
)

// schemaSections maps each section of the parser to the JSON pointer of its object in the schema.
var schemaSections = map[string]string{
	"top":       "",
	"build":     "/$defs/buildImage",
	"depends":   "/$defs/dependency",
	"ready":     "/$defs/ready",
	"test":      "/properties/test",
	"artifacts": "/properties/artifacts",
	"artifact":  "/$defs/artifactObject",
	"push":      "/properties/push",
	"deploy":    "/properties/deploy",
	"unit":      "/$defs/unit",
	"health":    "/$defs/health",
}

func loadSchema(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", schemaFile, err)
	}
	return doc
}

// TestSchemaKeys keeps docs/baleen.schema.json in step with the parser: each section's properties in the
// schema are exactly the keys the parser allows, and every object with properties in the schema is one of
// the parser's sections.
func TestSchemaKeys(t *testing.T) {
	doc := loadSchema(t)
	if diff := cmp.Diff(slices.Sorted(maps.Keys(schemaSections)), slices.Sorted(slices.Values(sections()))); diff != "" {
		t.Fatalf("sections mapped to the schema differ from the parser's (-test +parser):\n%s", diff)
	}
	for _, section := range sections() {
		ptr := schemaSections[section]
		obj, ok := lookup(doc, ptr).(map[string]any)
		if !ok {
			t.Errorf("section %s: no object at %q in the schema", section, ptr)
			continue
		}
		props, _ := obj["properties"].(map[string]any)
		got := slices.Sorted(maps.Keys(props))
		want := slices.Sorted(slices.Values(keysOf(section)))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("section %s (%s): schema properties differ from the parser's keys (-parser +schema):\n%s", section, ptr, diff)
		}
		if obj["additionalProperties"] != false {
			t.Errorf("section %s (%s): got additionalProperties %v, want false", section, ptr, obj["additionalProperties"])
		}
	}
	var withProps []string
	walkSchema(doc, "", func(ptr string, obj map[string]any) {
		if _, ok := obj["properties"]; ok {
			withProps = append(withProps, ptr)
		}
	})
	mapped := slices.Collect(maps.Values(schemaSections))
	for _, ptr := range withProps {
		if !slices.Contains(mapped, ptr) {
			t.Errorf("schema object %q has properties but is none of the parser's sections", ptr)
		}
	}
}

// TestSchemaExamples validates the good example files against the schema, and checks that the schema
// refuses the structural mistakes the parser refuses.
func TestSchemaExamples(t *testing.T) {
	c := jsonschema.NewCompiler()
	if err := c.AddResource("baleen.schema.json", loadSchema(t)); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("baleen.schema.json")
	if err != nil {
		t.Fatalf("compile %s: %v", schemaFile, err)
	}
	files, err := filepath.Glob("testdata/good/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(yamlToJSON(t, data)); err != nil {
				t.Errorf("schema: got %v, want %s valid", err, file)
			}
		})
	}
	bad := []struct{ name, in string }{
		{"no build", "test: {timeout: 5m}\n"},
		{"unknown top key", "build: {api: .}\nstages: 1\n"},
		{"build image a list", "build: {api: [a]}\n"},
		{"bad image name", "build: {My_App: .}\n"},
		{"absolute context", "build: {api: /srv}\n"},
		{"escaping context", "build: {api: ../x}\n"},
		{"test typo", "build: {api: .}\ntest: {comand: x}\n"},
		{"duration without unit", "build: {api: .}\ntest: {timeout: 5 minutes}\n"},
		{"dependency without image or src", "build: {api: .}\ndepends: {db: {env: {A: b}}}\n"},
		{"bad hostname", "build: {api: .}\ndepends: {my_db: {image: x}}\n"},
		{"relative artifact", "build: {api: .}\nartifacts: {xunit: reports}\n"},
		{"push without registry", "build: {api: .}\npush: {tags: [latest]}\n"},
		{"bad strategy", "build: {api: .}\ndeploy: {strategy: canary}\n"},
		{"unit without image", "build: {api: .}\ndeploy: {units: {web: {command: x}}}\n"},
		{"credentials repeated", "build: {api: .}\ncredentials: [A, A]\n"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse("baleen.yml", []byte(tt.in)); err == nil {
				t.Fatal("Parse: got no error, want one (the case is meant to be bad)")
			}
			if err := sch.Validate(yamlToJSON(t, []byte(tt.in))); err == nil {
				t.Errorf("schema: got valid, want %q refused", tt.in)
			}
		})
	}
}

// TestDocsKeys checks that docs/baleen-yml.md mentions every key the parser allows.
func TestDocsKeys(t *testing.T) {
	data, err := os.ReadFile(docFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, section := range sections() {
		for _, key := range keysOf(section) {
			if !bytes.Contains(data, []byte("`"+key+"`")) {
				t.Errorf("%s: got no mention of `%s` (section %s), want every key documented", docFile, key, section)
			}
		}
	}
}

func yamlToJSON(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// lookup resolves a JSON pointer (without escapes) in doc.
func lookup(doc any, ptr string) any {
	if ptr == "" {
		return doc
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		m, ok := doc.(map[string]any)
		if !ok {
			return nil
		}
		doc = m[tok]
	}
	return doc
}

// walkSchema calls fn for every object in the schema, with its JSON pointer. It skips "properties" maps
// themselves (their keys are names, not schemas) but walks into each property.
func walkSchema(v any, ptr string, fn func(string, map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		fn(ptr, v)
		keys := slices.Collect(maps.Keys(v))
		sort.Strings(keys)
		for _, k := range keys {
			if k == "properties" || k == "$defs" {
				if m, ok := v[k].(map[string]any); ok {
					for name, sub := range m {
						walkSchema(sub, ptr+"/"+k+"/"+name, fn)
					}
				}
				continue
			}
			walkSchema(v[k], ptr+"/"+k, fn)
		}
	case []any:
		for i, e := range v {
			walkSchema(e, ptr+"/"+strconv.Itoa(i), fn)
		}
	}
}
