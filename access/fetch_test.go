package access

import (
	"errors"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
)

// TestFetchCredentialsScopedPerProject stops a writer of one project from reading every private repository
// the server's fetch key or git logins reach, by naming it as a dependency source: each credential is for
// the projects its globs match, and no other.
func TestFetchCredentialsScopedPerProject(t *testing.T) {
	cfg := `
known_hosts: /etc/baleen/known_hosts
fetch_key_projects: ["shop-*", web]
git_credentials:
  git.example.com: {username: ci, password_file: /x, projects: ["shop-api"]}
  other.example.com: {username: ci, password_file: /y, projects: ["*"]}
`
	c, err := Parse("cfg.yml", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	p := New(Options{Config: c})
	for _, tc := range []struct {
		project string
		key     bool
		hosts   map[string]bool
	}{
		{"shop-api", true, map[string]bool{"git.example.com": true, "other.example.com": true, "third.example.com": false}},
		{"shop-web", true, map[string]bool{"git.example.com": false, "other.example.com": true}},
		{"web", true, map[string]bool{"git.example.com": false}},
		{"lab", false, map[string]bool{"git.example.com": false, "other.example.com": true}},
		{"../shop-x", false, map[string]bool{"other.example.com": false}},
	} {
		t.Run(tc.project, func(t *testing.T) {
			if got := p.FetchKeyAllowed(tc.project); got != tc.key {
				t.Errorf("FetchKeyAllowed(%q): got %v, want %v", tc.project, got, tc.key)
			}
			for host, want := range tc.hosts {
				if got := p.GitCredentialAllowed(host, tc.project); got != want {
					t.Errorf("GitCredentialAllowed(%q, %q): got %v, want %v", host, tc.project, got, want)
				}
			}
		})
	}
}

// TestFetchScopesRequired: a config that lets ssh:// sources be fetched (known_hosts) must say which
// projects may use the fetch key, and every git login must list its projects; [] gives the key to none.
func TestFetchScopesRequired(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"fetch key without projects", "known_hosts: /k\n", "cfg.yml:1: fetch_key_projects: give the projects"},
		{"git login without projects", "git_credentials:\n  git.example.com: {username: u, password_file: /p}\n", "cfg.yml:2: git_credentials.git.example.com: give projects"},
		{"bad glob", "fetch_key_projects: [\"a/b\"]\n", `cfg.yml:1: fetch_key_projects: pattern "a/b"`},
		{"lone string", "git_credentials:\n  h: {projects: x}\n", "cfg.yml:2: git_credentials.h.projects: want a list of strings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("cfg.yml", []byte(tc.yaml))
			if !errors.Is(err, baleen.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrInvalid containing %q", err, tc.want)
			}
		})
	}
	c, err := Parse("cfg.yml", []byte("known_hosts: /k\nfetch_key_projects: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	if New(Options{Config: c}).FetchKeyAllowed("anything") {
		t.Error("fetch_key_projects: [] gave the key to a project")
	}
}
