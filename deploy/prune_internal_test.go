package deploy

import (
	"slices"
	"testing"
)

// TestKeepImages checks which images a unit's history keeps after a deploy: the newest keep, the running
// one always, each once.
func TestKeepImages(t *testing.T) {
	tests := []struct {
		name               string
		history            []string
		image              string
		keep               int
		wantKept, wantDrop []string
	}{
		{"first deploy", []string{""}, "a:1", 3, []string{"a:1"}, nil},
		{"under the cap", []string{"a:1", "a:2"}, "a:3", 3, []string{"a:1", "a:2", "a:3"}, nil},
		{"over the cap", []string{"a:1", "a:2", "a:3"}, "a:4", 3, []string{"a:2", "a:3", "a:4"}, []string{"a:1"}},
		{"rollback to a kept image", []string{"a:1", "a:2", "a:3"}, "a:2", 2, []string{"a:3", "a:2"}, []string{"a:1"}},
		{"keep 1 keeps the running one", []string{"a:1", "a:2"}, "a:3", 1, []string{"a:3"}, []string{"a:1", "a:2"}},
		{"keep below 1 still keeps the running one", []string{"a:1"}, "a:1", 0, []string{"a:1"}, nil},
	}
	for _, tt := range tests {
		kept, drop := keepImages(tt.history, tt.image, tt.keep)
		if !slices.Equal(kept, tt.wantKept) || !slices.Equal(drop, tt.wantDrop) {
			t.Errorf("%s: got kept %v, dropped %v; want %v, %v", tt.name, kept, drop, tt.wantKept, tt.wantDrop)
		}
	}
}
