package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
)

// loadConfigText writes text as a config file and loads it.
func loadConfigText(t *testing.T, text string) (Config, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return loadConfig([]string{"--config", file}, testEnv(nil))
}

// TestCredentialScopes: without users, a credential without projects is for every project and one with
// projects for those only; with users, every credential must list its projects, and a bad glob is refused.
func TestCredentialScopes(t *testing.T) {
	c, err := loadConfigText(t, "credentials:\n  OLD: {env: X}\n  SHOP: {env: Y, projects: [\"shop-*\"]}\n")
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.accessPolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckCredentials("anything", []string{"OLD"}); err != nil {
		t.Errorf("a credential without projects on a server without users: %v", err)
	}
	if err := p.CheckCredentials("shop-api", []string{"SHOP"}); err != nil {
		t.Errorf("shop-api may use SHOP: %v", err)
	}
	if err := p.CheckCredentials("app", []string{"SHOP"}); !errors.Is(err, baleen.ErrUnauthorized) || !strings.Contains(err.Error(), "credential SHOP is not available to project app") {
		t.Errorf("app names SHOP: got %v", err)
	}

	_, err = loadConfigText(t, "users:\n  bob: {keys: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMlZ4jNTakpjSplYelAMDpK7FomtnuFOK3Hb+gjrGVyj bob\"]}\n"+
		"credentials:\n  OLD: {env: X}\n")
	if err == nil || !strings.Contains(err.Error(), "credentials.OLD: give projects") {
		t.Errorf("with users, a credential without projects: got %v", err)
	}
	_, err = loadConfigText(t, "credentials:\n  BAD: {env: X, projects: [\"a/b\"]}\n")
	if err == nil || !strings.Contains(err.Error(), `credentials.BAD.projects: "a/b"`) {
		t.Errorf("a glob with a slash: got %v", err)
	}
}
