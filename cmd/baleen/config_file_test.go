package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigFileProblems checks that every kind of bad config file is refused with a message that says
// where (file, line and column, key path) and what, in words, never as a raw YAML error.
func TestConfigFileProblems(t *testing.T) {
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i, prev := 'b', 'a'; i <= 'j'; i, prev = i+1, i {
		bomb += string(i) + ": &" + string(i) + " [" + strings.Repeat("*"+string(prev)+", ", 9) + "*" + string(prev) + "]\n"
	}
	tests := []struct {
		name, yml string
		want      []string
		not       []string
	}{
		{"unknown key", "listn: x\n", []string{"c.yml: line 1, column 1: listn: unknown key (field listn not found); did you mean listen?"}, []string{"main.Config"}},
		{"unknown nested key", "targets:\n  prod: {hosts: [local], usr: x}\n", []string{"line 2, column 26: targets.prod.usr: unknown key (field usr not found); did you mean user?"}, nil},
		{"unknown key far from any", "zzzzzz: 1\n", []string{"zzzzzz: unknown key (field zzzzzz not found); want one of data, listen"}, nil},
		{"wrong type", "concurrency: many\n", []string{`line 1, column 14: concurrency: want a whole number, got "many"`}, []string{"unmarshal", "!!str"}},
		{"duration without unit", "shutdown_grace: 300\n", []string{"line 1, column 17: shutdown_grace: want a duration with a unit, such as 30s or 5m, got 300"}, []string{"unmarshal"}},
		{"bad duration", "deploy_grace: soon\n", []string{`deploy_grace: want a duration with a unit, such as 30s or 5m, got "soon"`}, nil},
		{"list for a mapping", "targets: [a, b]\n", []string{"line 1, column 10: targets: want a mapping, got a list"}, nil},
		{"mapping for a list", "local_sources: {a: b}\n", []string{"local_sources: want a list, got a mapping"}, nil},
		{"whole file a list", "- a\n- b\n", []string{"line 1, column 1: want a mapping of settings (data, listen, ...), got a list"}, nil},
		{"whole file a string", "hello\n", []string{"want a mapping of settings (data, listen, ...), got \"hello\""}, nil},
		{"boolean", "allow_git_protocol: yes please\n", []string{`allow_git_protocol: want true or false, got "yes please"`}, nil},
		{"duplicate key", "data: /a\nlisten: ':1'\ndata: /b\n", []string{`line 3, column 1: data: duplicate key (first at line 1)`}, []string{"already defined"}},
		{"duplicate nested key", "credentials:\n  X: {env: A, env: B}\n", []string{`line 2, column 15: credentials.X.env: duplicate key (first at line 2)`}, nil},
		{"second document", "data: /a\n---\ndata: /b\n", []string{"line 2, column 1: a second YAML document"}, nil},
		{"tab indentation", "targets:\n\tprod: {}\n", []string{"c.yml: line 2", "invalid YAML"}, []string{"yaml: line"}},
		{"not UTF-8", "data: /a\nlisten: \"\xff\"\n", []string{"line 2, column 10: byte 0xff is not UTF-8"}, nil},
		{"NUL byte", "data: /a\x00\n", []string{"line 1, column 9: a NUL byte"}, nil},
		{"alias bomb", bomb, []string{"aliases reach more than"}, nil},
		{"integer overflow", "concurrency: 99999999999999999999\n", []string{"concurrency: want a whole number, got 99999999999999999999"}, nil},
		{"validation has a position", "data: /a\nconcurrency: 0\n", []string{"c.yml: line 2, column 14: concurrency: want 1 or more, got 0"}, nil},
		{"validation under a dotted key", "registries:\n  registry.example.com:5000: {username: u}\n", []string{"c.yml: line 2, column 3: registries.registry.example.com:5000: give username and password_file"}, nil},
		{"validation of a named list entry", "notify:\n  - name: chat\n    slack: {}\n", []string{"c.yml: line 2, column 5: notify[0] (chat): slack.url_file"}, nil},
		{"validation of a nested value", "engines:\n  e: {host: \"unix:///s\", slots: -1}\n", []string{"c.yml: line 2, column 33: engines.e: slots: -1 is negative"}, nil},
		{"merge key", "base: &b {data: /a}\n<<: *b\n", []string{"line 2, column 1: merge keys (<<) are not supported; write the keys out"}, nil},
		{"key not a string", "targets:\n  [a]: {hosts: [local]}\n", []string{"line 2, column 3: targets: want a string key, got a list"}, nil},
		{"every problem at once", "listn: x\nconcurrency: many\n", []string{"listn: unknown key", "concurrency: want a whole number"}, nil},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, "c.yml")
			if err := os.WriteFile(file, []byte(tt.yml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := loadConfig([]string{"--config", file}, testEnv(nil))
			if err == nil {
				t.Fatalf("got no error, want one saying %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to say %q", err, w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(err.Error(), n) {
					t.Errorf("got %q, want it not to say %q", err, n)
				}
			}
		})
	}
}

// TestConfigFileAccepted checks forms that are valid: an empty file, comments only, an explicit null, and
// anchors reused a few times.
func TestConfigFileAccepted(t *testing.T) {
	dir := t.TempDir()
	for name, yml := range map[string]string{
		"empty":         "",
		"comments only": "# nothing yet\n",
		"null":          "~\n",
		"anchors":       "credentials:\n  A: {env: A, projects: &p [shop-a, shop-b]}\n  B: {env: B, projects: *p}\n",
		"number string": "data: 2222\n",
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(dir, "c.yml")
			if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := loadConfig([]string{"--config", file}, testEnv(nil)); err != nil {
				t.Errorf("got %v, want nil", err)
			}
		})
	}
}

// TestConfigDocExample checks that every YAML example of docs/config.md passes the config file's checks:
// the reader must know every key the documentation gives.
func TestConfigDocExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```yaml\n")[1:]
	if len(blocks) == 0 {
		t.Fatal("docs/config.md: no yaml example")
	}
	for i, b := range blocks {
		body, _, _ := strings.Cut(b, "```")
		var c Config
		if _, err := readConfigFile(writeConfig(t, body), &c); err != nil {
			t.Errorf("example %d: %v", i, err)
		}
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestConfigNames checks the names and addresses of the config file that reach the environment, an SSH
// dial or a listener: a credential baleen.yml could never name, a deploy host without a port or with one
// out of range (or one ssh would read as an option), a listen address that is no address.
func TestConfigNames(t *testing.T) {
	tests := []struct{ name, yml, want string }{
		{"credential not a variable name", "credentials:\n  db-password: {env: X}\n", `line 2, column 3: credentials.db-password: "db-password" is not a variable name`},
		{"credential with =", "credentials:\n  \"A=B\": {env: X}\n", `credentials.A=B: "A=B" is not a variable name`},
		{"host without port", "targets:\n  prod: {user: u, identity: /i, known_hosts: /k, hosts: [web1]}\n", `targets.prod.hosts[0]: "web1": want "host:port" or "local"`},
		{"port out of range", "targets:\n  prod: {user: u, identity: /i, known_hosts: /k, hosts: [\"web1:99999\"]}\n", `line 2, column 58: targets.prod.hosts[0]: "web1:99999": want "host:port" or "local"`},
		{"host as an option", "targets:\n  prod: {user: u, identity: /i, known_hosts: /k, hosts: [\"-oProxyCommand=x:22\"]}\n", `targets.prod.hosts[0]: "-oProxyCommand=x:22": want "host:port" or "local"`},
		{"host twice", "targets:\n  prod: {hosts: [local, local]}\n", `targets.prod.hosts[1]: "local" is listed twice`},
		{"registry with a scheme", "registries:\n  \"https://r.example.com\": {username: u, password_file: /p}\n",
			`line 2, column 3: registries.https://r.example.com: want host[:port][/namespace] as baleen.yml's push.registry gives it, without a scheme`},
		{"git host with a scheme", "git_credentials:\n  \"https://git.example.com\": {username: u, password_file: /p}\n",
			`line 2, column 3: git_credentials.https://git.example.com: want the host[:port] of https:// sources, without a scheme or path`},
		{"target name with a space", "targets:\n  \"prod eu\": {hosts: [local]}\n",
			`targets.prod eu: "prod eu" is not a name baleen.yml's deploy.target can give: no spaces or control characters`},
		{"data empty", "data: \"\"\n", `line 1, column 7: data: want a directory, got an empty string`},
		{"listen not an address", "listen: everywhere\n", `line 1, column 9: listen: "everywhere": want [host]:port, such as :2222 or 127.0.0.1:2222`},
		{"listen port out of range", "listen: \":70000\"\n", `listen: ":70000": want [host]:port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig([]string{"--config", writeConfig(t, tt.yml)}, testEnv(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	good := "listen: \"[::1]:0\"\ncredentials: {DB_PASSWORD: {env: X}, _x1: {env: Y}}\n" +
		"targets:\n  prod: {user: u, identity: /i, known_hosts: /k, hosts: [local, \"web1:22\", \"[fd00::1]:2222\"]}\n"
	if _, err := loadConfig([]string{"--config", writeConfig(t, good)}, testEnv(nil)); err != nil {
		t.Errorf("valid names: got %v, want nil", err)
	}
}

// TestConfigFileTooLarge checks that a config file past the limit is refused without being read whole.
func TestConfigFileTooLarge(t *testing.T) {
	file := writeConfig(t, "data: /a\n"+strings.Repeat("# padding\n", 200))
	if _, err := readAtMost(file, 1<<20); err != nil {
		t.Fatalf("a small file: got %v, want nil", err)
	}
	if _, err := readAtMost(file, 100); err == nil || !strings.Contains(err.Error(), "over the limit") {
		t.Errorf("got %v, want the file refused as over the limit", err)
	}
}
