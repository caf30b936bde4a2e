package api

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestSchemasMatchTypes keeps docs/api.yaml's schemas and the shapes of this package naming the same
// fields: a field added to one and not the other fails here.
func TestSchemasMatchTypes(t *testing.T) {
	raw, err := os.ReadFile("../docs/api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any
			}
		}
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("docs/api.yaml: %v", err)
	}
	for _, v := range []any{Project{}, Build{}, Stage{}, TestReport{}, Coverage{}, Artifact{}, Report{}, Release{},
		Action{}, Error{}, Tests{}, TestCase{}, LogLine{}, Engine{}, Delivery{}, Token{}} {
		typ := reflect.TypeOf(v)
		schema, ok := doc.Components.Schemas[typ.Name()]
		if !ok {
			t.Errorf("docs/api.yaml has no schema %s", typ.Name())
			continue
		}
		var documented []string
		for p := range schema.Properties {
			documented = append(documented, p)
		}
		slices.Sort(documented)
		if got := jsonFields(typ); !slices.Equal(got, documented) {
			t.Errorf("%s: the type has fields %v, docs/api.yaml documents %v", typ.Name(), got, documented)
		}
	}
}

func jsonFields(typ reflect.Type) []string {
	var out []string
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
