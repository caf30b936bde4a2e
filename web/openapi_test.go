package web

import (
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestOpenAPIMatchesRoutes keeps docs/api.yaml and the API's handlers describing the same endpoints.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	raw, err := os.ReadFile("../docs/api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Servers []struct{ URL string }
		Paths   map[string]map[string]any
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("docs/api.yaml: %v", err)
	}
	if len(doc.Servers) != 1 {
		t.Fatalf("docs/api.yaml: want one server, got %d", len(doc.Servers))
	}
	var documented []string
	for p, ops := range doc.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+doc.Servers[0].URL+p)
		}
	}
	var served []string
	for _, r := range apiRoutes(&Server{}) {
		served = append(served, r.method+" "+r.path)
	}
	slices.Sort(documented)
	slices.Sort(served)
	for _, s := range served {
		if !slices.Contains(documented, s) {
			t.Errorf("%s is served but not in docs/api.yaml", s)
		}
	}
	for _, d := range documented {
		if !slices.Contains(served, d) {
			t.Errorf("%s is in docs/api.yaml but not served", d)
		}
	}
}
