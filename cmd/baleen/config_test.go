package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testEnv(vars map[string]string) env {
	return env{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string { return vars[k] }}
}

func TestLoadConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yml")
	os.WriteFile(file, []byte("data: /from/file\nlisten: ':1'\nconcurrency: 3\nshutdown_grace: 1m\ncredentials:\n  DB_PASSWORD: {env: SECRET_DB}\n"), 0o600)
	tests := []struct {
		name       string
		args       []string
		vars       map[string]string
		wantData   string
		wantListen string
	}{
		{"defaults", nil, nil, "./baleen-data", ":2222"},
		{"file", []string{"--config", file}, nil, "/from/file", ":1"},
		{"env over file", []string{"--config", file}, map[string]string{"BALEEN_DATA": "/from/env"}, "/from/env", ":1"},
		{"flag over env", []string{"--config", file, "--data", "/from/flag"}, map[string]string{"BALEEN_DATA": "/from/env"}, "/from/flag", ":1"},
		{"config from env", nil, map[string]string{"BALEEN_CONFIG": file, "BALEEN_LISTEN": "127.0.0.1:9"}, "/from/file", "127.0.0.1:9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(tt.args, testEnv(tt.vars))
			if err != nil {
				t.Fatal(err)
			}
			if c.Data != tt.wantData || c.Listen != tt.wantListen {
				t.Errorf("got data %q listen %q, want %q %q", c.Data, c.Listen, tt.wantData, tt.wantListen)
			}
			if want := filepath.Join(c.Data, "authorized_keys"); c.AuthorizedKeys != want {
				t.Errorf("authorized keys: got %q, want %q", c.AuthorizedKeys, want)
			}
		})
	}
	c, _ := loadConfig([]string{"--config", file}, testEnv(map[string]string{"SECRET_DB": "pw"}))
	if c.Concurrency != 3 || c.ShutdownGrace != time.Minute {
		t.Errorf("got concurrency %d grace %s, want 3 1m", c.Concurrency, c.ShutdownGrace)
	}
	if v, ok := c.secret(func(k string) string { return map[string]string{"SECRET_DB": "pw"}[k] })("DB_PASSWORD"); !ok || v != "pw" {
		t.Errorf("secret DB_PASSWORD = %q, %v; want pw, true", v, ok)
	}
	if _, ok := c.secret(os.Getenv)("OTHER"); ok {
		t.Error("secret OTHER: got ok, want not configured")
	}
}

func TestLoadConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown key", []string{"--config", write("a.yml", "listn: x\n")}, "listn: unknown key (field listn not found); did you mean listen?"},
		{"wrong type", []string{"--config", write("b.yml", "concurrency: many\n")}, "line 1"},
		{"bad concurrency", []string{"--config", write("c.yml", "concurrency: 0\n")}, "concurrency: want 1 or more"},
		{"credential with both", []string{"--config", write("d.yml", "credentials: {X: {file: f, env: E}}\n")}, "credentials.X: give exactly one"},
		{"missing file", []string{"--config", filepath.Join(dir, "none.yml")}, "no such file"},
		{"stray argument", []string{"extra"}, "serve takes no arguments"},
		{"bad log level", []string{"--config", write("e.yml", "log_level: loud\n")}, "log_level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(tt.args, testEnv(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := loadConfig([]string{"--config", write("empty.yml", "")}, testEnv(nil)); err != nil {
		t.Errorf("an empty config file: got %v, want nil", err)
	}
}
