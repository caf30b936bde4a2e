package deploy

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"
	"github.com/google/go-cmp/cmp"

	"github.com/baleen-ci/baleen"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s: mismatch (-want +got):\n%s", path, diff)
	}
}

func TestRenderUnitGolden(t *testing.T) {
	secrets := map[string]string{"DB_PASSWORD": "hunter2"}
	secret := func(k string) (string, bool) { v, ok := secrets[k]; return v, ok }
	tests := []struct {
		name  string
		r     baleen.Release
		u     baleen.DeployUnit
		image string
	}{
		{
			name:  "minimal",
			r:     baleen.Release{Project: "shop", Number: 1, Build: 4},
			u:     baleen.DeployUnit{Name: "worker", Image: "worker"},
			image: "worker:baleen-shop-4-a1b2c3",
		},
		{
			name: "full",
			r:    baleen.Release{Project: "shop", Number: 12, Build: 57},
			u: baleen.DeployUnit{
				Name:        "api",
				Image:       "api",
				Command:     baleen.Command{Exec: []string{"/app/api", "--listen", ":8000", "--greeting", `say "hi" for $5 at 100%`}},
				Ports:       []string{"8080:8000", "127.0.0.1:9090:9090/udp"},
				Env:         map[string]string{"LOG_LEVEL": "info", "GREETING": "hello world"},
				Credentials: []string{"DB_PASSWORD"},
				Volumes:     []string{"/var/lib/api:/data", "/etc/ssl/certs:/etc/ssl/certs:ro"},
				Health:      baleen.Health{HTTP: "http://127.0.0.1:8080/health"},
			},
			image: "registry.example.com:5000/shop/api@sha256:" + strings.Repeat("ab", 32),
		},
		{
			name:  "shell-command",
			r:     baleen.Release{Project: "shop", Number: 3, Build: 9},
			u:     baleen.DeployUnit{Name: "cron", Image: "api", Command: baleen.Command{Shell: "while true; do run-jobs; sleep 60; done"}},
			image: "api:baleen-shop-9-a1b2c3",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file, err := renderUnit(tt.r, tt.u, tt.image)
			if err != nil {
				t.Fatalf("render unit: %v", err)
			}
			golden(t, tt.name+".service", file)
			env, err := renderEnv(tt.u, secret)
			if err != nil {
				t.Fatalf("render env: %v", err)
			}
			golden(t, tt.name+".env", env)
		})
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		want string
	}{
		{"plain", []string{"/usr/bin/docker", "run", "--rm", "a:b"}, "/usr/bin/docker run --rm a:b"},
		{"space", []string{"echo", "a b"}, `echo "a b"`},
		{"quotes and backslash", []string{"echo", `say "x" \n`}, `echo "say \"x\" \\n"`},
		{"specifier and variable", []string{"echo", "100%", "$HOME"}, "echo 100%% $$HOME"},
		{"empty", []string{"echo", ""}, `echo ""`},
		{"semicolon", []string{"echo", ";"}, `echo ";"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := commandLine(tt.argv); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// TestRenderRejects stops injection into unit and environment files: a newline in any value would start
// a new directive (ExecStartPost=...) or a new variable.
func TestRenderRejects(t *testing.T) {
	r := baleen.Release{Project: "shop", Number: 1, Build: 1}
	ok := baleen.DeployUnit{Name: "api", Image: "api"}
	tests := []struct {
		name  string
		edit  func(u *baleen.DeployUnit)
		image string
	}{
		{"unit name with slash", func(u *baleen.DeployUnit) { u.Name = "../api" }, "api:1"},
		{"image with newline", func(u *baleen.DeployUnit) {}, "api:1\nExecStartPost=/bin/sh"},
		{"image like a flag", func(u *baleen.DeployUnit) {}, "--privileged"},
		{"port like a flag", func(u *baleen.DeployUnit) { u.Ports = []string{"--privileged"} }, "api:1"},
		{"volume with newline", func(u *baleen.DeployUnit) { u.Volumes = []string{"/a:/b\nUser=root"} }, "api:1"},
		{"command with newline", func(u *baleen.DeployUnit) { u.Command = baleen.Command{Exec: []string{"x\ny"}} }, "api:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := ok
			tt.edit(&u)
			if _, err := renderUnit(r, u, tt.image); !errors.Is(err, baleen.ErrInvalid) {
				t.Errorf("got %v, want ErrInvalid", err)
			}
		})
	}
}

func TestRenderEnvErrors(t *testing.T) {
	const value = "line1\nINJECTED=1"
	secret := func(k string) (string, bool) {
		if k == "MULTI" {
			return value, true
		}
		return "", false
	}
	tests := []struct {
		name string
		u    baleen.DeployUnit
		want error
	}{
		{"missing credential", baleen.DeployUnit{Name: "api", Credentials: []string{"NOPE"}}, baleen.ErrNotFound},
		{"value spans lines", baleen.DeployUnit{Name: "api", Credentials: []string{"MULTI"}}, baleen.ErrInvalid},
		{"bad name", baleen.DeployUnit{Name: "api", Env: map[string]string{"A-B": "1"}}, baleen.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := renderEnv(tt.u, secret)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if strings.Contains(err.Error(), "line1") {
				t.Errorf("error %q carries the credential's value", err)
			}
		})
	}
}

func TestFromRegistry(t *testing.T) {
	tests := []struct {
		ref  string
		want bool
	}{
		{"api:baleen-shop-4-x", false},
		{"shop/api:1", false},
		{"127.0.0.1:5000/api@sha256:00", true},
		{"registry.example.com/shop/api:1", true},
		{"localhost/api:1", true},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			if got := fromRegistry(tt.ref); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzRenderUnit stops injection through baleen.yml: whatever the unit's fields hold, a rendered unit
// carries exactly the directives Baleen writes, none smuggled in by a newline or a quote.
func FuzzRenderUnit(f *testing.F) {
	f.Add("api", "8080:8000", "/var/lib/api:/data", "/app/api", `say "hi" $HOME 100%`, "api:1")
	f.Add("api", "80", "/a:/b\nUser=root", "x\ny", "z", "api:1\nExecStartPost=/bin/sh")
	f.Fuzz(func(t *testing.T, name, port, volume, arg0, arg1, image string) {
		r := baleen.Release{Project: "shop", Number: 1, Build: 1}
		u := baleen.DeployUnit{Name: name, Image: "api", Ports: []string{port}, Volumes: []string{volume},
			Command: baleen.Command{Exec: []string{arg0, arg1}}}
		file, err := renderUnit(r, u, image)
		if err != nil {
			if !errors.Is(err, baleen.ErrInvalid) {
				t.Fatalf("got %v, want nil or ErrInvalid", err)
			}
			return
		}
		want, err := renderUnit(r, baleen.DeployUnit{Name: "x", Image: "api", Ports: []string{"1"}, Volumes: []string{"/a:/b"}, Command: baleen.Command{Exec: []string{"a", "b"}}}, "img")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := directives(t, file), directives(t, want); !cmp.Equal(got, want) {
			t.Errorf("directives: got %v, want %v\n%s", got, want, file)
		}
	})
}

// directives lists the "Section.Name" of every line of a unit file.
func directives(t *testing.T, file []byte) []string {
	t.Helper()
	opts, err := unit.DeserializeOptions(bytes.NewReader(file))
	if err != nil {
		t.Fatalf("parse rendered unit: %v\n%s", err, file)
	}
	var names []string
	for _, o := range opts {
		names = append(names, o.Section+"."+o.Name)
	}
	return names
}
