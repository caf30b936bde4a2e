package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/access"
)

func TestHTTPConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yml")
	if err := os.WriteFile(file, []byte("http:\n  listen: 127.0.0.1:9000\n  public_projects: [site]\n  trusted_proxies: [127.0.0.1]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		vars    map[string]string
		listen  string
		wantErr string
	}{
		{"off by default", nil, nil, "", ""},
		{"file", []string{"--config", file}, nil, "127.0.0.1:9000", ""},
		{"env over file", []string{"--config", file}, map[string]string{"BALEEN_HTTP": "127.0.0.1:9001"}, "127.0.0.1:9001", ""},
		{"flag over env", []string{"--config", file, "--http", "127.0.0.1:9002"}, map[string]string{"BALEEN_HTTP": "127.0.0.1:9001"}, "127.0.0.1:9002", ""},
		{"cert without key", []string{"--http", ":8443", "--http-cert", "c.pem"}, nil, "", "give both cert and key"},
		{"settings without listen", []string{"--http-cert", "c.pem", "--http-key", "k.pem"}, nil, "", "no listen address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(tt.args, testEnv(tt.vars))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.HTTP.Listen != tt.listen {
				t.Errorf("listen: got %q, want %q", c.HTTP.Listen, tt.listen)
			}
		})
	}
}

// TestKeyHolders (the web side without users) stops a key removed from the authorized keys file from using its web session.
func TestKeyHolders(t *testing.T) {
	s := &server{t: t, home: t.TempDir()}
	key := s.newKey("id_ed25519")
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(t.TempDir(), "authorized_keys")
	if err := os.WriteFile(keys, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	fp := strings.Fields(s.exec("", nil, "ssh-keygen", "-lf", key+".pub").stdout)[1]
	k := access.New(access.Options{AuthorizedKeys: keys})
	if got := k.Role(t.Context(), baleen.Identity{User: fp, Fingerprint: fp}, "p"); got != baleen.RoleAdmin {
		t.Fatalf("listed key: got %s, want admin", got)
	}
	if got := k.Role(t.Context(), baleen.Identity{Fingerprint: "SHA256:other"}, "p"); got != baleen.RoleNone {
		t.Fatalf("unlisted key: got %s, want none", got)
	}
	if err := os.WriteFile(keys, []byte("# nobody\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := k.Role(t.Context(), baleen.Identity{User: fp, Fingerprint: fp}, "p"); got != baleen.RoleNone {
		t.Fatalf("removed key: got %s, want none", got)
	}
}
