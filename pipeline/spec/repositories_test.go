package spec

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPushRepositories checks push.repositories: it names the repository of the images it lists, and the
// others keep the default, namespaced by project.
func TestPushRepositories(t *testing.T) {
	in := "build: {api: ., web: web}\npush:\n  registry: r.example.com:5000/team\n  repositories: {api: legacy/api}\n"
	s, err := Parse("baleen.yml", []byte(in))
	if err != nil {
		t.Fatalf("Parse: got %v, want no error", err)
	}
	if diff := cmp.Diff(map[string]string{"api": "legacy/api"}, s.Push.Repositories); diff != "" {
		t.Errorf("push.repositories (-want +got):\n%s", diff)
	}
	for _, tc := range []struct{ project, image, want string }{
		{"shop", "api", "legacy/api"},
		{"shop", "web", "shop/web"},
		{"", "web", "web"},
	} {
		if got := s.Push.Repository(tc.project, tc.image); got != tc.want {
			t.Errorf("Repository(%q, %q): got %q, want %q", tc.project, tc.image, got, tc.want)
		}
	}
}

func TestPushRepositoriesBad(t *testing.T) {
	const head = "build: {api: ., web: web}\npush:\n  registry: r.example.com\n"
	tests := []struct{ name, in, want string }{
		{"not a build image", head + "  repositories: {apo: x/api}\n",
			"baleen.yml:4:18: push.repositories.apo: \"apo\" is not one of the build images; did you mean api?"},
		{"not pushed", head + "  images: [web]\n  repositories: {api: x/api}\n",
			"baleen.yml:5:18: push.repositories.api: api is not pushed (push.images lists web)"},
		{"bad name", head + "  repositories: {api: X/Api}\n",
			"baleen.yml:4:23: push.repositories.api: \"X/Api\" is not a valid repository name: use lowercase letters and digits, separated by '.', '_', '__', '-' or '/'"},
		{"shared", head + "  repositories: {api: same, web: same}\n",
			"baleen.yml:4:34: push.repositories.web: same is also the repository of api"},
		{"not a mapping", head + "  repositories: [api]\n",
			"baleen.yml:4:17: push.repositories: want a mapping of build image names to repository names, got a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("baleen.yml", []byte(tt.in))
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse: got %v, want %q", err, tt.want)
			}
		})
	}
}
