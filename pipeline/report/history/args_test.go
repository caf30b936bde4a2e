package history

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseTestsArgs(t *testing.T) {
	tests := []struct {
		args    []string
		project string
		want    TestsOptions
		wantErr string
	}{
		{[]string{"api"}, "api", TestsOptions{}, ""},
		{[]string{"--branch", "dev", "api", "--failing", "--json"}, "api", TestsOptions{Branch: "dev", Filter: Failing, JSON: true}, ""},
		{[]string{"api", "--branch=feature/x", "-slowest"}, "api", TestsOptions{Branch: "feature/x", Filter: Slowest}, ""},
		{[]string{"api", "--flaky", "--flaky"}, "api", TestsOptions{Filter: Flakies}, ""},
		{[]string{"api", "--flaky", "--failing"}, "", TestsOptions{}, "--flaky and --failing: give at most one"},
		{[]string{"api", "--branch"}, "", TestsOptions{}, "--branch needs a branch name"},
		{[]string{"api", "--fast"}, "", TestsOptions{}, "unknown flag --fast"},
		{[]string{}, "", TestsOptions{}, "want one project, got 0"},
		{[]string{"api", "web"}, "", TestsOptions{}, "want one project, got 2"},
	}
	for _, tt := range tests {
		project, got, err := ParseTestsArgs(tt.args)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%q: got error %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || project != tt.project {
			t.Errorf("%q: got %q, %v; want %q, nil", tt.args, project, err, tt.project)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%q: options mismatch (-want +got):\n%s", tt.args, diff)
		}
	}
}
