package pipeline

import (
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
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

// TestPushRepository checks the repository each image is pushed to: namespaced by the project by default,
// as push.repositories says for the images it names, and refused, asking for push.repositories, when the
// project's name cannot be part of a repository name.
func TestPushRepository(t *testing.T) {
	p := &baleen.Push{Registry: "r.example.com", Repositories: map[string]string{"api": "team/api"}}
	tests := []struct{ project, image, want, wantErr string }{
		{"shop", "web", "shop/web", ""},
		{"shop", "api", "team/api", ""},
		{"", "web", "web", ""},
		{"shop_", "web", "", "the project name shop_ cannot be part of a registry repository name"},
		{"_shop", "api", "team/api", ""},
	}
	for _, tt := range tests {
		got, err := pushRepository(p, tt.project, tt.image)
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("pushRepository(%q, %q): got %q, %v; want an error containing %q", tt.project, tt.image, got, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || got != tt.want):
			t.Errorf("pushRepository(%q, %q): got %q, %v; want %q", tt.project, tt.image, got, err, tt.want)
		}
	}
}

// TestReleaseImagesByPushedImage: a deploy unit runs the digest its image was pushed as, found by the
// image's name even when push.repositories gave it a repository of another name; records made before the
// image was kept are matched by the repository's last element.
func TestReleaseImagesByPushedImage(t *testing.T) {
	d := &baleen.Deploy{Units: []baleen.DeployUnit{{Name: "u1", Image: "api"}, {Name: "u2", Image: "web"}}}
	pushed := []baleen.PushedImage{
		{Ref: "r.example.com/team/service:latest", Digest: "sha256:aaa", Image: "api"},
		{Ref: "r.example.com/shop/web:latest", Digest: "sha256:bbb"},
	}
	got, err := releaseImages(d, map[string]string{"api": "api:b1", "web": "web:b1"}, pushed)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"api": "r.example.com/team/service@sha256:aaa", "web": "r.example.com/shop/web@sha256:bbb"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("release images (-want +got):\n%s", diff)
	}
}
