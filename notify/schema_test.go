package notify_test

import (
	"bytes"
	"encoding/json"
	"os"
	"sort"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

const schemaFile = "../docs/notify.schema.json"

// checkSchema validates webhook bodies against docs/notify.schema.json and checks that every field a body
// has (at any depth of the message and its digest) is one the schema documents.
func checkSchema(t *testing.T, bodies [][]byte) {
	t.Helper()
	f, err := os.Open(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("notify.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("notify.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	props := doc.(map[string]any)["$defs"].(map[string]any)["message"].(map[string]any)["properties"].(map[string]any)
	for _, b := range bodies {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(v); err != nil {
			t.Errorf("body does not follow %s: %v\n%s", schemaFile, err, b)
		}
		undocumented(t, props, b)
	}
}

func undocumented(t *testing.T, props map[string]any, body []byte) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	var extra []string
	for k := range m {
		if _, ok := props[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("fields not in the schema: %v", extra)
	}
	if d, ok := m["digest"]; ok {
		var items []json.RawMessage
		if err := json.Unmarshal(d, &items); err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			undocumented(t, props, it)
		}
	}
}
