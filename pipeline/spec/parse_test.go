package spec

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/good/*.golden from the parser's output")

// TestParseGood parses every testdata/good/*.yml and compares the Spec, as JSON, with its golden file.
func TestParseGood(t *testing.T) {
	files, err := filepath.Glob("testdata/good/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/good/*.yml")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Parse("baleen.yml", data)
			if err != nil {
				t.Fatalf("Parse: got error\n%v\nwant none", err)
			}
			checkInvariants(t, s)
			got, err := json.MarshalIndent(s, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(file, ".yml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./pipeline/spec -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Parse(%s) differs from %s (-want +got):\n%s", file, golden, diff)
			}
		})
	}
}

// TestParseDefaults checks the defaults a minimal file gets, independently of the golden files.
func TestParseDefaults(t *testing.T) {
	s, err := Parse("baleen.yml", []byte("build:\n  api: ./\n  web: web\ndepends:\n  db: {image: postgres:16}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := &baleen.Spec{
		Build: []baleen.ImageBuild{
			{Name: "api", Context: ".", Dockerfile: "Dockerfile"},
			{Name: "web", Context: "web", Dockerfile: "Dockerfile"},
		},
		Depends: []baleen.Dependency{
			{Name: "db", Image: "postgres:16", Ready: baleen.Ready{Timeout: baleen.DefaultReadyTimeout}},
		},
		Test: baleen.Test{Image: "api", Timeout: baleen.DefaultTestTimeout},
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("Parse: (-want +got):\n%s", diff)
	}
}

const goodBuild = "build:\n  api: .\n"

func TestParseBad(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty file", "", []string{
			"baleen.yml:1:1: the file is empty: want at least a build section, such as `build: {app: .}`"}},
		{"only comments", "# nothing yet\n\n", []string{
			"baleen.yml:1:1: the file is empty: want at least a build section, such as `build: {app: .}`"}},
		{"only null", "~\n", []string{
			"baleen.yml:1:1: the file is empty: want at least a build section, such as `build: {app: .}`"}},
		{"two documents", goodBuild + "---\nbuild: {web: .}\n", []string{
			"baleen.yml:3:1: a second YAML document: want exactly one (remove the '---')"}},
		{"syntax error", "build:\n  api: .\n  web\n", []string{
			"baleen.yml:3:3: invalid YAML: could not find expected ':'"}},
		{"tab indentation", "build:\n\tapi: .\n", []string{
			"baleen.yml:2:1: invalid YAML: found character that cannot start any token"}},
		{"unknown anchor", goodBuild + "test:\n  env: *nope\n", []string{
			"baleen.yml:4:8: invalid YAML: unknown anchor 'nope' referenced"}},
		{"top level list", "- build\n", []string{
			"baleen.yml:1:1: top level: want a mapping of sections (build, depends, test, ...), got a list"}},
		{"no build", "test:\n  timeout: 5m\n", []string{
			"baleen.yml:1:1: build: required: list the images this repository builds, such as `build: {app: .}`"}},
		{"empty build", "build: {}\n", []string{
			"baleen.yml:1:8: build: want at least one image, such as `build: {app: .}`"}},
		{"build is a list", "build: [api]\n", []string{
			"baleen.yml:1:8: build: want a mapping of image names to build contexts, got a list"}},
		{"build image is a list", "build:\n  api: [a]\n", []string{
			"baleen.yml:2:8: build.api: want a string (a build context) or a mapping, got a list"}},
		{"build image is null", "build:\n  api:\n", []string{
			"baleen.yml:2:7: build.api: want a string (a build context) or a mapping, got null"}},
		{"bad image name", "build:\n  My_App: .\n", []string{
			`baleen.yml:2:3: build.My_App: "My_App" is not a valid image name: use lowercase letters and digits, separated by '.', '_', '__', '-' or '/'`}},
		{"key not a string", "build:\n  [a]: .\n", []string{
			"baleen.yml:2:3: build: want a string key, got a list"}},
		{"absolute context", "build:\n  api: /srv/api\n", []string{
			`baleen.yml:2:8: build.api: build context "/srv/api": want a relative path, got an absolute one`}},
		{"context leaves the repository", "build:\n  api: {context: src/../../x}\n", []string{
			`baleen.yml:2:18: build.api: build context "src/../../x" leaves the repository`}},
		{"backslash context", "build:\n  api: 'src\\api'\n", []string{
			`baleen.yml:2:8: build.api: build context "src\\api": use / to separate directories`}},
		{"empty context", "build:\n  api: ''\n", []string{
			"baleen.yml:2:8: build.api.context: want a directory relative to the repository root, got an empty string"}},
		{"dockerfile leaves the context", "build:\n  api:\n    dockerfile: ../Dockerfile\n", []string{
			`baleen.yml:3:17: build.api: dockerfile "../Dockerfile" leaves the build context`}},
		{"dockerfile is the context", "build:\n  api:\n    dockerfile: x/..\n", []string{
			"baleen.yml:3:17: build.api.dockerfile: want a file, got the context directory itself"}},
		{"bad target", "build:\n  api: {target: 1st}\n", []string{
			`baleen.yml:2:17: build.api.target: "1st" is not a valid build stage name`}},
		{"build long form typo", "build:\n  api:\n    contxt: src\n", []string{
			"baleen.yml:3:5: build.api.contxt: unknown key; did you mean context?"}},
		{"unknown top key, close", goodBuild + "depend:\n  db: {image: x}\n", []string{
			"baleen.yml:3:1: depend: unknown key; did you mean depends?"}},
		{"unknown top key, far", goodBuild + "stages: 1\n", []string{
			"baleen.yml:3:1: stages: unknown key; want one of build, depends, test, credentials, artifacts, push, deploy, runs_on"}},
		{"unknown key, wrong case", goodBuild + "Test: {}\n", []string{
			"baleen.yml:3:1: Test: unknown key; did you mean test?"}},
		{"duplicate image", "build:\n  api: .\n  api: web\n", []string{
			`baleen.yml:3:3: duplicate key "api" (first at line 2)`}},
		{"duplicate section", goodBuild + "build: {web: .}\n", []string{
			`baleen.yml:3:1: duplicate key "build" (first at line 1)`}},
		{"duplicate key under an unknown key", goodBuild + "x-extra: {a: 1, a: 2}\n", []string{
			"baleen.yml:3:1: x-extra: unknown key; want one of build, depends, test, credentials, artifacts, push, deploy, runs_on",
			`baleen.yml:3:17: duplicate key "a" (first at line 3)`}},
		{"merge key", goodBuild + "base: &b {timeout: 5m}\n", []string{
			"baleen.yml:3:1: base: unknown key; want one of build, depends, test, credentials, artifacts, push, deploy, runs_on"}},
		{"merge key in a section", goodBuild + "test:\n  <<: {timeout: 5m}\n", []string{
			"baleen.yml:4:3: test: merge keys (<<) are not supported; write the keys out"}},
		{"test typo key", goodBuild + "test:\n  comand: make test\n", []string{
			"baleen.yml:4:3: test.comand: unknown key; did you mean command?"}},
		{"test image typo of a build image", goodBuild + "test:\n  image: apo\n", []string{
			`baleen.yml:4:10: test.image: "apo" is not one of the build images; did you mean api? (for an outside image, give its tag: apo:latest)`}},
		{"test image upper case", goodBuild + "test:\n  image: API\n", []string{
			`baleen.yml:4:10: test.image: "API" is not one of the build images; did you mean api? (for an outside image, give its tag: API:latest)`}},
		{"test image bad reference", goodBuild + "test:\n  image: Busybox:1.36\n", []string{
			`baleen.yml:4:10: test.image: "Busybox:1.36" is not a valid image reference: invalid reference format: repository name (library/Busybox) must be lowercase`}},
		{"test is a string", goodBuild + "test: make test\n", []string{
			"baleen.yml:3:7: test: want a mapping (image, command, env, workdir, timeout), got a string"}},
		{"test workdir relative", goodBuild + "test:\n  workdir: src\n", []string{
			`baleen.yml:4:12: test.workdir: workdir "src": want an absolute path inside the container`}},
		{"duration without unit", goodBuild + "test:\n  timeout: 5 minutes\n", []string{
			`baleen.yml:4:12: test.timeout: "5 minutes" is not a duration: want a duration such as 90s, 5m or 1h30m`}},
		{"duration negative", goodBuild + "test:\n  timeout: -5s\n", []string{
			"baleen.yml:4:12: test.timeout: want a positive duration, got -5s"}},
		{"duration zero seconds", goodBuild + "test:\n  timeout: 0\n", []string{
			"baleen.yml:4:12: test.timeout: want a positive duration, got 0"}},
		{"duration fraction of seconds", goodBuild + "test:\n  timeout: 1.5\n", []string{
			"baleen.yml:4:12: test.timeout: 1.5 is not a whole number of seconds: want a duration such as 90s, 5m or 1h30m"}},
		{"duration overflows", goodBuild + "test:\n  timeout: 99999999999999999999\n", []string{
			"baleen.yml:4:12: test.timeout: 99999999999999999999 is out of range"}},
		{"duration is a list", goodBuild + "depends:\n  db:\n    image: x\n    ready: {timeout: [1]}\n", []string{
			"baleen.yml:6:22: depends.db.ready.timeout: want a duration such as 90s, 5m or 1h30m, got a list"}},
		{"command empty list", goodBuild + "test:\n  command: []\n", []string{
			"baleen.yml:4:12: test.command: want a command: a string (run with sh -c) or a list (run as is), got an empty list"}},
		{"command mapping", goodBuild + "test:\n  command: {run: x}\n", []string{
			"baleen.yml:4:12: test.command: want a command: a string (run with sh -c) or a list (run as is), got a mapping"}},
		{"command blank", goodBuild + "test:\n  command: '  '\n", []string{
			"baleen.yml:4:12: test.command: want a command: a string (run with sh -c) or a list (run as is), got an empty string"}},
		{"command argument a list", goodBuild + "test:\n  command: [make, [x]]\n", []string{
			"baleen.yml:4:19: test.command[1]: want a string argument, got a list"}},
		{"env name", goodBuild + "test:\n  env: {1FOO: x, OK: y}\n", []string{
			`baleen.yml:4:9: test.env.1FOO: "1FOO" is not a valid variable name: use letters, digits and '_', not starting with a digit`}},
		{"env null value", goodBuild + "test:\n  env:\n    FOO:\n", []string{
			`baleen.yml:5:9: test.env.FOO: want a value, got null (write "" for an empty one)`}},
		{"env list", goodBuild + "test:\n  env: [A=b]\n", []string{
			"baleen.yml:4:8: test.env: want a mapping of variable names to values, got a list"}},
		{"depends neither image nor src", goodBuild + "depends:\n  db:\n    env: {A: b}\n", []string{
			"baleen.yml:5:5: depends.db: want image (an image to run) or src (a repository to build and run), or both"}},
		{"depends typo key", goodBuild + "depends:\n  db:\n    imgae: postgres\n", []string{
			"baleen.yml:5:5: depends.db.imgae: unknown key; did you mean image?"}},
		{"depends bad hostname", goodBuild + "depends:\n  my_db: {image: postgres}\n", []string{
			`baleen.yml:4:3: depends.my_db: "my_db" is not a valid hostname: use lowercase letters, digits and '-', at most 63`}},
		{"depends image typo of a build image", goodBuild + "depends:\n  db: {image: ap1}\n", []string{
			`baleen.yml:4:15: depends.db.image: "ap1" is not one of the build images; did you mean api? (for an outside image, give its tag: ap1:latest)`}},
		{"depends is a list", goodBuild + "depends: [db]\n", []string{
			"baleen.yml:3:10: depends: want a mapping of hostnames to dependencies, got a list"}},
		{"branch without src", goodBuild + "depends:\n  db: {image: postgres, branch: main}\n", []string{
			"baleen.yml:4:25: depends.db.branch: only applies to a dependency with src"}},
		{"bad minhash", goodBuild + "depends:\n  users: {src: users, minhash: xyz1}\n", []string{
			`baleen.yml:4:32: depends.users.minhash: "xyz1" is not a commit hash: want 4 to 40 hexadecimal digits`}},
		{"bad branch", goodBuild + "depends:\n  users: {src: users, branch: 'a..b'}\n", []string{
			`baleen.yml:4:31: depends.users.branch: "a..b" is not a valid branch name`}},
		{"bad src scheme", goodBuild + "depends:\n  users: {src: 'ftp://example.com/u.git'}\n", []string{
			`baleen.yml:4:16: depends.users: src "ftp://example.com/u.git": want an ssh, git, http, https or file URL`}},
		{"bad src name", goodBuild + "depends:\n  users: {src: Users Service}\n", []string{
			`baleen.yml:4:16: depends.users: src "Users Service" is neither a URL (ssh://host/repo.git, user@host:repo.git), a path (/srv/git/repo.git, ../repo) nor a project name`}},
		{"src image not a name", goodBuild + "depends:\n  users: {src: users, image: 'Users'}\n", []string{
			`baleen.yml:4:30: depends.users.image: "Users" is not a valid image name: use lowercase letters and digits, separated by '.', '_', '__', '-' or '/'`}},
		{"rebuild_dependents not a bool", goodBuild + "depends:\n  users: {src: users, rebuild_dependents: yes}\n", []string{
			"baleen.yml:4:43: depends.users.rebuild_dependents: want true or false, got a string"}},
		{"ready typo", goodBuild + "depends:\n  db:\n    image: postgres\n    ready: {cmd: pg_isready}\n", []string{
			"baleen.yml:6:13: depends.db.ready.cmd: unknown key; want one of command, timeout"}},
		{"credentials bad and repeated", goodBuild + "credentials: [DB_PASSWORD, db-password, DB_PASSWORD]\n", []string{
			`baleen.yml:3:28: credentials[1]: "db-password" is not a valid variable name: use letters, digits and '_', not starting with a digit`,
			"baleen.yml:3:41: credentials[2]: DB_PASSWORD is listed twice (first at line 3)"}},
		{"credentials a string", goodBuild + "credentials: DB_PASSWORD\n", []string{
			"baleen.yml:3:14: credentials: want a list of secret names, got a string"}},
		{"artifacts relative path", goodBuild + "artifacts:\n  xunit: reports\n", []string{
			`baleen.yml:4:10: artifacts.xunit: path "reports": want an absolute path inside the container`}},
		{"artifacts long form typo", goodBuild + "artifacts:\n  xunit: {pathz: /r}\n", []string{
			"baleen.yml:4:11: artifacts.xunit.pathz: unknown key; did you mean path?"}},
		{"artifacts empty long form", goodBuild + "artifacts:\n  xunit: {}\n", []string{
			"baleen.yml:4:10: artifacts.xunit: want path or paths"}},
		{"artifacts boolean", goodBuild + "artifacts:\n  files: true\n", []string{
			`baleen.yml:4:10: artifacts.files: path "true": want an absolute path inside the container`}},
		{"artifacts null", goodBuild + "artifacts:\n  files:\n", []string{
			"baleen.yml:4:9: artifacts.files: want a path, a list of paths or a mapping with path or paths, got null"}},
		{"artifacts typo", goodBuild + "artifacts:\n  junit: /r\n", []string{
			"baleen.yml:4:3: artifacts.junit: unknown key; did you mean xunit?"}},
		{"push without registry", goodBuild + "push:\n  tags: [latest]\n", []string{
			"baleen.yml:4:3: push.registry: required when push is set"}},
		{"push with a scheme", goodBuild + "push:\n  registry: https://registry.example.com\n", []string{
			`baleen.yml:4:13: push.registry: registry "https://registry.example.com": give host[:port][/namespace], without a scheme`}},
		{"push unknown image and bad tag", goodBuild + "push:\n  registry: ghcr.io/team\n  images: [apj, web]\n  tags: [latest, -x]\n", []string{
			`baleen.yml:5:12: push.images[0]: "apj" is not one of the build images; did you mean api?`,
			`baleen.yml:5:17: push.images[1]: "web" is not one of the build images (api)`,
			`baleen.yml:6:18: push.tags[1]: "-x" is not a valid tag: want commit, short, branch, build, latest, or letters, digits, '_', '.' and '-' (at most 128, not starting with '.' or '-')`}},
		{"deploy", goodBuild + "deploy:\n  strategy: canary\n  units:\n    web:\n      command: x\n" +
			"    api:\n      image: apx\n      ports: [http]\n      volumes: [/data]\n      health: {http: 'localhost:8080', timeout: 5}\n      hosts: [a]\n", []string{
			"baleen.yml:4:3: deploy.target: required when deploy is set: a target in the server config's targets",
			`baleen.yml:4:13: deploy.strategy: want rolling or all, got "canary"`,
			"baleen.yml:7:7: deploy.units.web.image: required: the build image the unit runs",
			`baleen.yml:9:14: deploy.units.api.image: "apx" is not one of the build images; did you mean api?`,
			`baleen.yml:10:15: deploy.units.api.ports[0]: "http" is not a port: want [ip:][host_port:]container_port[/tcp|udp], ports from 1 to 65535`,
			`baleen.yml:11:17: deploy.units.api.volumes[0]: volume "/data": want source:/path/in/container[:options]`,
			`baleen.yml:12:22: deploy.units.api.health.http: "localhost:8080": want an http or https URL, such as http://localhost:8080/health`,
			"baleen.yml:13:7: deploy.units.api.hosts: unknown key; want one of image, command, ports, env, credentials, volumes, health"}},
		{"deploy is a string", goodBuild + "deploy: prod\n", []string{
			"baleen.yml:3:9: deploy: want a mapping (target, branch, strategy, units), got a string"}},
		{"every problem at once, in file order", "build:\n  Api: .\ntest:\n  timeout: soon\n  imag: x\ncredentials: [a-b]\n", []string{
			`baleen.yml:2:3: build.Api: "Api" is not a valid image name: use lowercase letters and digits, separated by '.', '_', '__', '-' or '/'`,
			`baleen.yml:4:12: test.timeout: "soon" is not a duration: want a duration such as 90s, 5m or 1h30m`,
			"baleen.yml:5:3: test.imag: unknown key; did you mean image?",
			`baleen.yml:6:15: credentials[0]: "a-b" is not a valid variable name: use letters, digits and '_', not starting with a digit`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("baleen.yml", []byte(tt.in))
			if err == nil {
				t.Fatalf("Parse: got no error and %+v, want %d problems", s, len(tt.want))
			}
			if s != nil {
				t.Errorf("Parse: got a Spec with an error, want nil")
			}
			if !errors.Is(err, baleen.ErrInvalid) {
				t.Errorf("errors.Is(err, baleen.ErrInvalid): got false, want true")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("errors.As(%T, *Errors): got false, want true", err)
			}
			if diff := cmp.Diff(tt.want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("Parse: problems differ (-want +got):\n%s", diff)
			}
		})
	}
}
