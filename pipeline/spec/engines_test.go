package spec

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseBuilderAndRunsOn(t *testing.T) {
	s, err := Parse("baleen.yml", []byte("build:\n  app: {context: ., builder: classic}\n  web: .\nruns_on: [big, amd64]\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := []string{s.Build[0].Builder, s.Build[1].Builder}; !cmp.Equal(got, []string{"classic", ""}) {
		t.Errorf("builders: got %q, want classic and the default", got)
	}
	if diff := cmp.Diff([]string{"big", "amd64"}, s.RunsOn); diff != "" {
		t.Errorf("runs_on (-want +got):\n%s", diff)
	}

	bad := []struct{ yml, want string }{
		{"build:\n  app: {context: ., builder: kaniko}\n", `baleen.yml:2:30: build.app.builder: "kaniko" is not a builder: want classic or buildkit`},
		{"build: {app: .}\nruns_on: [Big Box]\n", `baleen.yml:2:11: runs_on[0]: "Big Box" is not an engine label`},
	}
	for _, tt := range bad {
		_, err := Parse("baleen.yml", []byte(tt.yml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q): got %v, want an error containing %q", tt.yml, err, tt.want)
		}
	}
}
