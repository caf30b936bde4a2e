package pipeline_test

import (
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
)

// TestConfigWarnings prints baleen.yml's warnings in the config stage; the build goes on.
func TestConfigWarnings(t *testing.T) {
	sv := newServer(t, nil)
	sv.commit("app", "c1", appSpec+"push:\n  registry: r.example.com\n  tags: [comit]\n")
	var out syncBuffer
	b := sv.run("app", "c1", &out)
	if b.Status != baleen.StatusPassed {
		t.Fatalf("got %s (%s), want passed:\n%s", b.Status, b.Message, out.String())
	}
	want := `baleen.yml:8:10: warning: push.tags[0]: "comit" is a literal tag; did you mean commit?`
	config, _, _ := strings.Cut(out.String(), "==> build")
	if !strings.Contains(config, want) {
		t.Errorf("config stage output lacks %q:\n%s", want, out.String())
	}
}
