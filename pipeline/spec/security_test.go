package spec

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/google/go-cmp/cmp"
)

// billionLaughs is the classic YAML bomb: nine levels of ten aliases each reach 10^9 nodes from a file of a
// few hundred bytes.
func billionLaughs(section string) string {
	var b strings.Builder
	b.WriteString("build:\n  api: .\n")
	b.WriteString(`x: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]` + "\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "x%d: &a%d [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	b.WriteString(section)
	return b.String()
}

// TestAliasBomb stops the "billion laughs" attack: a small baleen.yml whose aliases expand to 10^9 nodes
// must be refused without being expanded, wherever the bomb is used, so that a push cannot exhaust the
// server's memory or CPU.
func TestAliasBomb(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"under unknown keys", billionLaughs(""),
			"baleen.yml:6:38: alias *a2: aliases reach more than 10000 nodes; refusing to expand them"},
		{"in deploy, which is kept whole", billionLaughs("deploy: {units: *a9}\n"),
			"baleen.yml:6:38: alias *a2: aliases reach more than 10000 nodes; refusing to expand them"},
		{"cycle", "build: {api: .}\ndeploy: &d {units: {x: *d}}\n",
			"baleen.yml:2:24: alias *d: aliases reach more than 10000 nodes; refusing to expand them"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("baleen.yml", []byte(tt.in))
			if err == nil {
				t.Fatal("Parse: got no error, want the file refused")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse: got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestAliasWithinBudget checks that the budget still lets a file reuse anchors many times.
func TestAliasWithinBudget(t *testing.T) {
	var b strings.Builder
	b.WriteString("build:\n  api: .\ndepends:\n")
	b.WriteString("  d0: {image: postgres, env: &env {A: '1', B: '2'}}\n")
	for i := 1; i < MaxDepends; i++ {
		fmt.Fprintf(&b, "  d%d: {image: postgres, env: *env}\n", i)
	}
	s, err := Parse("baleen.yml", []byte(b.String()))
	if err != nil {
		t.Fatalf("Parse: got %v, want no error", err)
	}
	if got, want := len(s.Depends), MaxDepends; got != want {
		t.Fatalf("got %d dependencies, want %d", got, want)
	}
	if diff := cmp.Diff(map[string]string{"A": "1", "B": "2"}, s.Depends[MaxDepends-1].Env); diff != "" {
		t.Errorf("env through an alias (-want +got):\n%s", diff)
	}
}

// TestTooLarge stops a push from making the server read and parse an arbitrarily large baleen.yml.
func TestTooLarge(t *testing.T) {
	data := []byte("build:\n  api: .\n# " + strings.Repeat("x", MaxSize) + "\n")
	_, err := Parse("baleen.yml", data)
	want := fmt.Sprintf("baleen.yml:1:1: the file is %d bytes, over the limit of 1048576 (1 MiB)", len(data))
	if err == nil || err.Error() != want {
		t.Fatalf("Parse: got %v, want %q", err, want)
	}
	if !errors.Is(err, baleen.ErrInvalid) {
		t.Error("errors.Is(err, baleen.ErrInvalid): got false, want true")
	}
}

// TestDeepNesting stops a stack exhaustion through deeply nested flow collections.
func TestDeepNesting(t *testing.T) {
	data := "build:\n  api: .\ndeploy: {units: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "}\n"
	if _, err := Parse("baleen.yml", []byte(data)); err == nil {
		t.Fatal("Parse: got no error, want the nesting refused")
	}
}
