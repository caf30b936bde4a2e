package main

import (
	"strings"
	"testing"
)

const bobUser = "users:\n  bob: {keys: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMlZ4jNTakpjSplYelAMDpK7FomtnuFOK3Hb+gjrGVyj bob\"]}\n"

// TestFetchCredentialScopes: without users, a git login without projects and the fetch key without
// fetch_key_projects are for every project, as before they had scopes, and given scopes hold; with users,
// a server that can fetch ssh:// sources must say who may use its key, and each git login its projects.
func TestFetchCredentialScopes(t *testing.T) {
	c, err := loadConfigText(t, "git_credentials:\n  old.example.com: {username: u, password_file: /p}\n"+
		"  new.example.com: {username: u, password_file: /p, projects: [\"shop-*\"]}\n"+
		"  off.example.com: {username: u, password_file: /p, projects: []}\n")
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.accessPolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what string
		got  bool
		want bool
	}{
		{"fetch key for any project", p.FetchKeyAllowed("anything"), true},
		{"a login without projects", p.GitCredentialAllowed("old.example.com", "anything"), true},
		{"a login for shop-*, by shop-api", p.GitCredentialAllowed("new.example.com", "shop-api"), true},
		{"a login for shop-*, by lab", p.GitCredentialAllowed("new.example.com", "lab"), false},
		{"a login for no project ([])", p.GitCredentialAllowed("off.example.com", "anything"), false},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.what, tc.got, tc.want)
		}
	}
	c, err = loadConfigText(t, "fetch_key_projects: [\"shop-*\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	if p, _ = c.accessPolicy(nil); p.FetchKeyAllowed("lab") || !p.FetchKeyAllowed("shop-api") {
		t.Errorf("fetch_key_projects [shop-*] without users: lab %v, shop-api %v; want false, true", p.FetchKeyAllowed("lab"), p.FetchKeyAllowed("shop-api"))
	}

	for _, tc := range []struct{ yaml, want string }{
		{bobUser + "known_hosts: /k\n", "fetch_key_projects: give the projects"},
		{bobUser + "git_credentials:\n  h.example.com: {username: u, password_file: /p}\n", "git_credentials.h.example.com: give projects"},
		{"fetch_key_projects: [\"a/b\"]\n", `fetch_key_projects: "a/b" is not a project name or glob`},
		{"git_credentials:\n  h: {username: u, password_file: /p, projects: [\"[\"]}\n", `git_credentials.h.projects: "[" is not a project name or glob`},
		{"git_credentials:\n  h: {username: u, password_file: /p, project: [x]}\n", "field project not found"},
	} {
		if _, err := loadConfigText(t, tc.yaml); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error containing %q", tc.yaml, err, tc.want)
		}
	}
	c, err = loadConfigText(t, bobUser+"known_hosts: /k\nfetch_key_projects: [\"shop-*\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	if p, err = c.accessPolicy(nil); err != nil {
		t.Fatal(err)
	}
	if p.FetchKeyAllowed("lab") || !p.FetchKeyAllowed("shop-api") {
		t.Errorf("fetch_key_projects [shop-*] with users: lab %v, shop-api %v; want false, true", p.FetchKeyAllowed("lab"), p.FetchKeyAllowed("shop-api"))
	}
}
