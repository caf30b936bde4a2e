package main

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
)

// FuzzConfigFile checks that no config file makes the reader panic or answer with a raw YAML error: each
// problem is a line that starts with the file's name, and what it accepts passes validation or is refused
// in words.
func FuzzConfigFile(f *testing.F) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		f.Fatal(err)
	}
	for _, b := range strings.Split(string(doc), "```yaml\n")[1:] {
		body, _, _ := strings.Cut(b, "```")
		f.Add([]byte(body))
	}
	for _, s := range []string{
		"", "~", "- a", "listn: x", "concurrency: many", "shutdown_grace: 300", "data: /a\n---\ndata: /b",
		"targets: {p: {hosts: [\"h:99999\"]}}", "credentials: {X: &a {env: E}, Y: *a}", "a: &a [*a]",
		"engines: {e: {host: 'unix:///s', slots: -1}}", "registries: {\"r:5000\": {username: u}}", "<<: {data: x}",
		"notify: [{name: n, webhook: {url: 'http://x'}}]", "retention: {projects: {'a*': {keep_days: x}}}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := defaults()
		root, err := parseConfig("config.yml", data, &c)
		if err != nil {
			if !errors.Is(err, baleen.ErrInvalid) {
				t.Fatalf("got %v, want an error wrapping baleen.ErrInvalid", err)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "config.yml: ") {
					t.Fatalf("problem %q does not start with the file's name", line)
				}
			}
			return
		}
		err = locate("config.yml", root, c.validate())
		if err != nil && strings.Contains(err.Error(), "yaml:") {
			t.Fatalf("validate: a raw YAML error: %v", err)
		}
	})
}
