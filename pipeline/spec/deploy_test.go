package spec

import (
	"strings"
	"testing"
)

// unitFile is a baleen.yml with one deploy unit whose body is the YAML flow mapping's inside.
func unitFile(body string) string {
	return "build: {api: .}\ndeploy:\n  target: prod\n  units:\n    web: {image: api, " + body + "}\n"
}

// TestDeployUnitInjection stops a baleen.yml from carrying into a systemd unit file, or a docker run
// command line, what breaks out of it: a line break in a command or an environment value would end the
// Exec line or the env file's line and start a directive of the pusher's choosing; a volume or port that
// starts with '-' would be read as a docker option. The deployer refuses them too, but only after a green
// build: the parser must refuse them at the line they are on.
func TestDeployUnitInjection(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"command with a line break", `command: "run\nExecStartPre=/bin/sh -c evil"`,
			`baleen.yml:5:32: deploy.units.web.command: holds a line break or a tab, which a unit file cannot hold: write one line`},
		{"exec argument with a line break", `command: [run, "a\nb"]`,
			`baleen.yml:5:38: deploy.units.web.command[1]: holds a line break or a tab, which a unit file cannot hold: write one line`},
		{"env value with a line break", `env: {A: "x\nB=y"}`,
			`baleen.yml:5:32: deploy.units.web.env.A: holds a line break, which an environment file cannot hold`},
		{"volume that is a docker option", `volumes: ["--privileged:/x"]`,
			`baleen.yml:5:33: deploy.units.web.volumes[0]: volume "--privileged:/x": want source:/path/in/container[:options]`},
		{"volume with a line break", `volumes: ["/a\nExecStartPre=/x:/y"]`,
			`deploy.units.web.volumes[0]: volume "/a\nExecStartPre=/x:/y": want source:/path/in/container[:options]`},
		{"port out of range", `ports: ["99999"]`,
			`baleen.yml:5:31: deploy.units.web.ports[0]: "99999" is not a port: want [ip:][host_port:]container_port[/tcp|udp], ports from 1 to 65535`},
		{"host port out of range", `ports: ["70000:80"]`, `"70000:80" is not a port`},
		{"port zero", `ports: ["0"]`, `"0" is not a port`},
		{"range reversed", `ports: ["8090-8080:8090-8080"]`, `"8090-8080:8090-8080" is not a port`},
		{"bad ip", `ports: ["300.0.0.1:80:80"]`, `"300.0.0.1:80:80" is not a port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("baleen.yml", []byte(unitFile(tt.body)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	for _, body := range []string{
		`ports: ["8080", "127.0.0.1:8080:80", "8000-8010:8000-8010/udp", "[::1]:53:53/udp", "0.0.0.0::80"]`,
		`command: "serve --port 80"`, `env: {A: "tab\tinside"}`, `volumes: ["/var/lib/api:/data:ro", "named:/data"]`,
	} {
		if _, err := Parse("baleen.yml", []byte(unitFile(body))); err != nil {
			t.Errorf("%s: got %v, want nil", body, err)
		}
	}
}

// TestContainerPathsAreOneLine checks that the paths inside the test container (workdir, artifacts) hold no
// line break: a path is one line in every record and message that shows it.
func TestContainerPathsAreOneLine(t *testing.T) {
	for _, in := range []string{
		"build: {api: .}\ntest: {workdir: \"/src\\nx\"}\n",
		"build: {api: .}\nartifacts: {files: \"/out\\nx\"}\n",
	} {
		_, err := Parse("baleen.yml", []byte(in))
		if err == nil || !strings.Contains(err.Error(), "holds a control character") {
			t.Errorf("%q: got %v, want it refused for its line break", in, err)
		}
	}
}

// TestDeployTarget checks deploy.target at the line it is on: required (the deployer has no target ""), one
// line, and, once the server's targets are known, one of them.
func TestDeployTarget(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"missing", "build: {api: .}\ndeploy: {units: {web: {image: api}}}\n",
			"baleen.yml:2:9: deploy.target: required when deploy is set: a target in the server config's targets"},
		{"line break", "build: {api: .}\ndeploy: {target: \"prod\\nx\", units: {web: {image: api}}}\n",
			`baleen.yml:2:18: deploy.target: "prod\nx" is not a target name: no spaces or control characters`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("baleen.yml", []byte(tt.in))
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
	f, err := ParseFile("baleen.yml", []byte("build: {api: .}\ndeploy:\n  target: prdo\n  units: {web: {image: api}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := `baleen.yml:3:11: deploy.target: "prdo" is not a target of this server; did you mean prod?`
	if err := f.CheckTargets([]string{"prod", "staging"}); err == nil || err.Error() != want {
		t.Errorf("CheckTargets: got %v, want %q", err, want)
	}
	want = `baleen.yml:3:11: deploy.target: "prdo" is not a target of this server (it has none)`
	if err := f.CheckTargets(nil); err == nil || err.Error() != want {
		t.Errorf("CheckTargets without targets: got %v, want %q", err, want)
	}
	if err := f.CheckTargets([]string{"prdo"}); err != nil {
		t.Errorf("CheckTargets: got %v, want nil", err)
	}
}

// TestUnitNameWithDots checks that a unit name with ".." is refused at parse: "baleen-<project>..<unit>"
// is how the deployer keeps units of two projects apart, so ".." in a unit name could make one project's
// unit another's.
func TestUnitNameWithDots(t *testing.T) {
	_, err := Parse("baleen.yml", []byte("build: {api: .}\ndeploy: {target: prod, units: {a..b: {image: api}}}\n"))
	want := `baleen.yml:2:32: deploy.units.a..b: "a..b" is not a valid unit name: use lowercase letters, digits, '.', '_' and '-', at most 63, without ".."`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

// TestEnvNamesACredential checks that an environment variable may not share its name with a credential the
// same container gets: one would silently replace the other, a literal where a secret was meant or the
// reverse.
func TestEnvNamesACredential(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"subject", "build: {api: .}\ncredentials: [DB]\ntest: {env: {DB: x}}\n",
			"baleen.yml:3:14: test.env.DB: DB is also a credential this container gets: name the variable otherwise, or drop it"},
		{"subject, test credentials", "build: {api: .}\ntest: {credentials: [DB], env: {DB: x}}\n",
			"baleen.yml:2:33: test.env.DB: DB is also a credential"},
		{"dependency", "build: {api: .}\ndepends: {db: {image: postgres, credentials: [DB], env: {DB: x}}}\n",
			"baleen.yml:2:58: depends.db.env.DB: DB is also a credential"},
		{"unit", "build: {api: .}\ndeploy: {target: p, units: {w: {image: api, credentials: [DB], env: {DB: x}}}}\n",
			"baleen.yml:2:70: deploy.units.w.env.DB: DB is also a credential"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("baleen.yml", []byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	// A dependency's env may name a credential of the subject's: the dependency does not get it.
	if _, err := Parse("baleen.yml", []byte("build: {api: .}\ncredentials: [DB]\ndepends: {db: {image: postgres, env: {DB: x}}}\n")); err != nil {
		t.Errorf("got %v, want nil", err)
	}
}
