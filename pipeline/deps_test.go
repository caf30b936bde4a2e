package pipeline

import (
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
)

func TestProjectName(t *testing.T) {
	tests := []struct{ src, want string }{
		{"ssh://git@example.com/team/Users.git", "users"},
		{"https://example.com/a/b/orders", "orders"},
		{"git@example.com:team/billing.git", "billing"},
		{"file:///srv/git/inventory.git/", "inventory"},
		{"/srv/git/My Repo.git", "my-repo"},
		{"../sibling", "sibling"},
		{"https://example.com/" + strings.Repeat("x", 80) + ".git", strings.Repeat("x", 63)},
	}
	for _, tt := range tests {
		got, err := ProjectName(tt.src)
		if err != nil || got != tt.want {
			t.Errorf("ProjectName(%q) = %q, %v; want %q", tt.src, got, err, tt.want)
		}
	}
	for _, bad := range []string{"https://example.com/", "/", "https://example.com/..."} {
		if got, err := ProjectName(bad); err == nil {
			t.Errorf("ProjectName(%q) = %q; want an error", bad, got)
		}
	}
}

func TestDisambiguatedName(t *testing.T) {
	a := DisambiguatedName("users", "https://a.example.com/users.git")
	b := DisambiguatedName("users", "https://b.example.com/users.git")
	if a == b || !strings.HasPrefix(a, "users-") {
		t.Errorf("got %q and %q; want two different names starting users-", a, b)
	}
	if again := DisambiguatedName("users", "https://a.example.com/users.git"); again != a {
		t.Errorf("not deterministic: %q then %q", a, again)
	}
	long := DisambiguatedName(strings.Repeat("n", 63), "src")
	if err := baleen.ValidateProjectName(long); err != nil || len(long) != 63 {
		t.Errorf("long name %q (%d): %v", long, len(long), err)
	}
}
