package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The notify: and mirrors: sections load from the config file, and their mistakes stop the server with
// their place.
func TestConfigIntegrations(t *testing.T) {
	write := func(body string) string {
		p := filepath.Join(t.TempDir(), "baleen.yml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write(`
notify:
  - name: team-hook
    webhook: {url: "https://hooks.example.com/baleen", secret_file: /etc/baleen/secrets/hook}
    events: [failed, fixed, release_failed]
    projects: ["shop-*"]
mirrors:
  shop-api:
    url: "https://github.com/acme/shop-api.git"
    branches: [main]
    webhook_secret_file: /etc/baleen/secrets/shop-api-hook
    status: {kind: github, token_file: /etc/baleen/secrets/github_token}
    poll: 5m
`)
	c, err := loadConfig([]string{"--config", good}, testEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Notify) != 1 || c.Notify[0].Kind() != "webhook" || c.Mirrors["shop-api"].Poll.Minutes() != 5 {
		t.Errorf("got notify %+v, mirrors %+v", c.Notify, c.Mirrors)
	}
	bad := write(`
notify:
  - name: chat
    slack: {}
mirrors:
  shop-api: {url: "https://github.com/acme/shop-api.git", status: {kind: bitbucket, token_file: /t}}
`)
	_, err = loadConfig([]string{"--config", bad}, testEnv(nil))
	for _, want := range []string{"notify[0] (chat): slack.url_file", `mirrors.shop-api: status.kind: "bitbucket"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want it to say %q", err, want)
		}
	}
}
