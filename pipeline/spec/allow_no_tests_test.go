package spec

import (
	"strings"
	"testing"
)

func TestParseAllowNoTests(t *testing.T) {
	const head = "build:\n  app: .\nartifacts:\n  xunit: /r\n"
	tests := []struct {
		name    string
		extra   string
		want    bool
		wantErr string
	}{
		{"absent", "", false, ""},
		{"true", "  allow_no_tests: true\n", true, ""},
		{"false", "  allow_no_tests: false\n", false, ""},
		{"not a boolean", "  allow_no_tests: sometimes\n", false, "artifacts.allow_no_tests: want true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("baleen.yml", []byte(head+tt.extra))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if s.Artifacts.AllowNoTests != tt.want {
				t.Errorf("AllowNoTests: got %v, want %v", s.Artifacts.AllowNoTests, tt.want)
			}
		})
	}
}
