package pipeline

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPushTags(t *testing.T) {
	const commit = "3f2a9c1d4e5f60718293a4b5c6d7e8f901234567"
	tests := []struct {
		name    string
		words   []string
		branch  string
		number  int
		want    []string
		wantErr string
	}{
		{"default", nil, "main", 3, []string{commit, "main", "latest"}, ""},
		{"every word", []string{"commit", "short", "branch", "build", "latest", "v1.2"}, "main", 7, []string{commit, "3f2a9c1d4e5f", "main", "b7", "latest", "v1.2"}, ""},
		{"branch made tag-safe", []string{"branch"}, "feature/Login flow", 1, []string{"feature-Login-flow"}, ""},
		{"branch that is only unsafe", []string{"branch"}, "///", 1, nil, "push tag branch"},
		{"no build number", []string{"build"}, "main", 0, nil, "push tag build"},
		{"duplicates once", []string{"latest", "latest", "branch"}, "latest", 1, []string{"latest"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pushTags(tt.words, commit, tt.branch, tt.number)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
		})
	}
}
