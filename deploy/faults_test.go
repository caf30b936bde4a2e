package deploy_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/deploy"
	"github.com/baleen-ci/baleen/deploy/hosttest"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
)

// targetDeployer returns a deployer whose target "test" is hosts, logging in with f's key and checking
// host keys against knownHosts.
func targetDeployer(f *hosttest.Fleet, knownHosts string, hosts ...string) *deploy.Deployer {
	return deploy.New(deploy.Options{
		Targets: map[string]deploy.Target{"test": {
			Name: "test", User: "root", Identity: f.Identity, KnownHosts: knownHosts, Hosts: hosts,
		}},
		Images:      nil,
		DialTimeout: 2 * time.Second,
		Grace:       testGrace,
	})
}

// untouched fails the test if h has any file of the unit baleen-shop..web.
func untouched(t *testing.T, f *hosttest.Fleet, h hosttest.Host) {
	t.Helper()
	out, err := f.Exec(t.Context(), h, "sh", "-c", "ls /etc/systemd/system/baleen-shop..web.service /etc/baleen/baleen-shop..web.* 2>/dev/null || true")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != "" {
		t.Errorf("host %s: got files %q, want none: it should not have been touched", h.Name, out)
	}
}

// TestDeployUnreachableHost: a host that refuses connections, or accepts and never speaks SSH, fails the
// rollout within the dial timeout with a message naming it, and the hosts after it are not touched.
func TestDeployUnreachableHost(t *testing.T) {
	f := hosttest.Start(t, 1, hosttest.Options{})
	e := dockertest.Engine(t)
	id := dockertest.BuildID(t)
	dockertest.Cleanup(t, e, id)
	image := appImage(t, e, id, "v1", true)

	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedAddr := refused.Addr().String()
	refused.Close()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()

	tests := []struct {
		name, addr, want string
	}{
		{"refused", refusedAddr, "is unreachable"},
		{"silent", silent.Addr().String(), "no SSH handshake"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := targetDeployer(f, f.KnownHosts, tt.addr, f.Hosts[0].Addr)
			r := baleen.Release{Project: "shop", Number: 1, Build: 1, Images: map[string]string{"app": image}}
			res, err := d.Deploy(t.Context(), r, baleen.Deploy{Target: "test", Units: []baleen.DeployUnit{webUnitNoSecret()}}, nil)
			if err != nil {
				t.Fatalf("deploy: %v", err)
			}
			if got, want := fmt.Sprint(statuses(res)), "[failed queued]"; got != want {
				t.Fatalf("got %s, want %s: %+v", got, want, res)
			}
			if !strings.Contains(res[0].Message, tt.addr) || !strings.Contains(res[0].Message, tt.want) {
				t.Errorf("got message %q, want it to name %s and say %q", res[0].Message, tt.addr, tt.want)
			}
			untouched(t, f, f.Hosts[0])
		})
	}
}

// webUnitNoSecret is webUnit without credentials, for deployers that have no secrets.
func webUnitNoSecret() baleen.DeployUnit {
	u := webUnit(10 * time.Second)
	u.Credentials = nil
	return u
}

// TestDeployHostKeyRefused stops a man in the middle: a host whose key is not the one in known_hosts, or
// that is not in known_hosts at all, is refused before anything is sent to it.
func TestDeployHostKeyRefused(t *testing.T) {
	f := hosttest.Start(t, 1, hosttest.Options{})
	h := f.Hosts[0]
	dir := t.TempDir()

	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	changed := filepath.Join(dir, "changed")
	if err := os.WriteFile(changed, []byte(knownhosts.Line([]string{h.Addr}, other)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	unknown := filepath.Join(dir, "unknown")
	if err := os.WriteFile(unknown, []byte(knownhosts.Line([]string{"127.0.0.1:1"}, other)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, knownHosts, want string
	}{
		{"changed", changed, "does not match"},
		{"unknown", unknown, "is not in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := targetDeployer(f, tt.knownHosts, h.Addr)
			r := baleen.Release{Project: "shop", Number: 1, Build: 1, Images: map[string]string{"app": "example.com/app@sha256:" + strings.Repeat("0", 64)}}
			res, err := d.Deploy(t.Context(), r, baleen.Deploy{Target: "test", Units: []baleen.DeployUnit{webUnitNoSecret()}}, nil)
			if err != nil {
				t.Fatalf("deploy: %v", err)
			}
			if len(res) != 1 || res[0].Status != baleen.StatusFailed {
				t.Fatalf("got %+v, want one failed host", res)
			}
			for _, want := range []string{h.Addr, "REFUSED", tt.want} {
				if !strings.Contains(res[0].Message, want) {
					t.Errorf("got message %q, want it to contain %q", res[0].Message, want)
				}
			}
			st, err := d.Status(t.Context(), "shop", "test", []string{"web"})
			if err != nil {
				t.Fatal(err)
			}
			if len(st) != 1 || !strings.Contains(st[0].Err, "REFUSED") {
				t.Errorf("status: got %+v, want the host refused", st)
			}
			untouched(t, f, h)
		})
	}
}

// TestDeployRegistry: an image pushed to a registry reaches the hosts by docker pull of its digest.
func TestDeployRegistry(t *testing.T) {
	f, e, id, d := setup(t, 2, hosttest.Options{Registry: true})
	local := appImage(t, e, id, "v1", true)
	ref := f.Registry + "/baleen-test/app:" + string(id)
	if err := e.Tag(t.Context(), local, ref); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.RemoveImage(t.Context(), ref) })
	digest, err := e.Push(t.Context(), ref, nil, io.Discard)
	if err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	pinned := f.Registry + "/baleen-test/app@" + digest

	res, out := deployRelease(t, d, "shop", 1, pinned, "", webUnit(20*time.Second))
	if got, want := fmt.Sprint(statuses(res)), "[passed passed]"; got != want {
		t.Fatalf("got %s, want %s\n%s", got, want, out)
	}
	if !strings.Contains(out, "pulling "+pinned) {
		t.Errorf("output does not say the image was pulled:\n%s", out)
	}
	for _, h := range f.Hosts {
		if got, want := serves(t, f, h), "v1"; got != want {
			t.Errorf("host %s serves %q, want %q", h.Name, got, want)
		}
	}

	// An image the registry does not have: the pull fails, the first host keeps release 1 untouched and
	// the rollout stops there.
	missing := f.Registry + "/baleen-test/app@sha256:" + strings.Repeat("0", 64)
	res, out = deployRelease(t, d, "shop", 2, missing, "", webUnit(20*time.Second))
	if got, want := fmt.Sprint(statuses(res)), "[failed queued]"; got != want {
		t.Fatalf("missing image: got %s, want %s\n%s", got, want, out)
	}
	for _, want := range []string{f.Hosts[0].Addr, "baleen-shop..web.service", missing, "docker pull", "keeps its previous release"} {
		if !strings.Contains(res[0].Message, want) {
			t.Errorf("missing image: message lacks %q:\n%s", want, res[0].Message)
		}
	}
	for _, h := range f.Hosts {
		if got, want := serves(t, f, h), "v1"; got != want {
			t.Errorf("missing image: host %s serves %q, want %q", h.Name, got, want)
		}
	}
}

// TestDeployFirstReleaseCrashes: a first release whose container exits is stopped and disabled (there is
// nothing to return to), its files removed, and the failure carries the container's last words.
func TestDeployFirstReleaseCrashes(t *testing.T) {
	f, e, id, d := setup(t, 2, hosttest.Options{})
	image := appImage(t, e, id, "v1", true)
	u := webUnit(10 * time.Second)
	u.Command = baleen.Command{Exec: []string{"sh", "-c", "echo boom-$((6*7)) >&2; exit 3"}}

	res, out := deployRelease(t, d, "shop", 1, image, "", u)
	if got, want := fmt.Sprint(statuses(res)), "[failed queued]"; got != want {
		t.Fatalf("got %s, want %s\n%s", got, want, out)
	}
	for _, want := range []string{"did not stay running", "no previous release: stopped and disabled", "boom-42"} {
		if !strings.Contains(res[0].Message, want) {
			t.Errorf("message lacks %q:\n%s", want, res[0].Message)
		}
	}
	for _, h := range f.Hosts {
		untouched(t, f, h)
	}
	state, _ := f.Exec(t.Context(), f.Hosts[0], "systemctl", "is-enabled", "baleen-shop..web.service")
	if got := strings.TrimSpace(state); got == "enabled" {
		t.Errorf("host %s: baleen-shop..web.service is %q, want it disabled or gone", f.Hosts[0].Name, got)
	}
}

// TestDeployInterruptedSwitch: a server that stopped in the middle of a switch left a host with a new,
// unverified unit and its previous files beside it; the next deploy first returns the host to its last
// good release, then rolls out.
func TestDeployInterruptedSwitch(t *testing.T) {
	f, e, id, d := setup(t, 1, hosttest.Options{})
	h := f.Hosts[0]
	v1 := appImage(t, e, id, "v1", true)
	v2 := appImage(t, e, id, "v2", true)
	if res, out := deployRelease(t, d, "shop", 1, v1, "", webUnit(20*time.Second)); res[0].Status != baleen.StatusPassed {
		t.Fatalf("release 1: got %+v, want passed\n%s", res, out)
	}
	// What begin leaves before the new unit is checked: .prev copies, the marker, a new unit file.
	crash := `set -e; cd /etc/baleen
cp -p /etc/systemd/system/baleen-shop..web.service baleen-shop..web.unit.prev
cp -p baleen-shop..web.env baleen-shop..web.env.prev
cp -p baleen-shop..web.release baleen-shop..web.state.prev
: > baleen-shop..web.switch
sed -i 's|^ExecStart=.*|ExecStart=/bin/false|' /etc/systemd/system/baleen-shop..web.service
systemctl daemon-reload; systemctl restart baleen-shop..web.service || true`
	if _, err := f.Exec(t.Context(), h, "sh", "-c", crash); err != nil {
		t.Fatal(err)
	}
	res, out := deployRelease(t, d, "shop", 2, v2, "", webUnit(20*time.Second))
	if res[0].Status != baleen.StatusPassed {
		t.Fatalf("release 2: got %+v, want passed\n%s", res, out)
	}
	for _, want := range []string{"an earlier switch did not finish", "back on release 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if got, want := serves(t, f, h), "v2"; got != want {
		t.Errorf("host serves %q, want %q", got, want)
	}
	left, err := f.Exec(t.Context(), h, "sh", "-c", "ls /etc/baleen")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Fields(left), []string{"baleen-shop..web.env", "baleen-shop..web.images", "baleen-shop..web.release"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("files in /etc/baleen: got %v, want %v", got, want)
	}
}

// TestDeployAsSudoUser deploys as a user other than root that has passwordless sudo, as Flatcar's core.
func TestDeployAsSudoUser(t *testing.T) {
	f := hosttest.Start(t, 1, hosttest.Options{})
	f.AddUser(t, "core")
	e := dockertest.Engine(t)
	id := dockertest.BuildID(t)
	dockertest.Cleanup(t, e, id)
	image := appImage(t, e, id, "v1", true)
	d := deploy.New(deploy.Options{
		Targets: map[string]deploy.Target{"test": {
			Name: "test", User: "core", Identity: f.Identity, KnownHosts: f.KnownHosts, Hosts: []string{f.Hosts[0].Addr},
		}},
		Images: e,
		Grace:  testGrace,
	})
	res, out := deployRelease(t, d, "shop", 1, image, "", webUnitNoSecret())
	if res[0].Status != baleen.StatusPassed {
		t.Fatalf("got %+v, want passed\n%s", res, out)
	}
	if got, want := serves(t, f, f.Hosts[0]), "v1"; got != want {
		t.Errorf("host serves %q, want %q", got, want)
	}
	owner, err := f.Exec(t.Context(), f.Hosts[0], "stat", "-c", "%a %U", "/etc/baleen/baleen-shop..web.env", "/etc/systemd/system/baleen-shop..web.service")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Fields(owner), []string{"600", "root", "644", "root"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("files: got %v, want %v (root-owned; the environment file root-only)", got, want)
	}
}

// TestDeployCancelled: a rollout whose context ends while a host is being checked (the server shuts
// down) still returns that host to its previous release.
func TestDeployCancelled(t *testing.T) {
	f, e, id, d := setup(t, 1, hosttest.Options{})
	v1 := appImage(t, e, id, "v1", true)
	v2 := appImage(t, e, id, "v2", false)
	if res, out := deployRelease(t, d, "shop", 1, v1, "", webUnit(20*time.Second)); res[0].Status != baleen.StatusPassed {
		t.Fatalf("release 1: got %+v, want passed\n%s", res, out)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// Cancel once the new unit is being checked; its health check would wait a minute.
	w := &waitWriter{want: "starting baleen-shop..web.service", found: cancel, started: make(chan struct{})}
	r := baleen.Release{Project: "shop", Number: 2, Build: 2, Images: map[string]string{"app": v2}}
	res, err := d.Deploy(ctx, r, baleen.Deploy{Target: "test", Units: []baleen.DeployUnit{webUnit(time.Minute)}}, w)
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	if len(res) != 1 || res[0].Status != baleen.StatusFailed || !strings.Contains(res[0].Message, "back on release 1") {
		t.Fatalf("got %+v, want failed and back on release 1\n%s", res, w.String())
	}
	if got, want := serves(t, f, f.Hosts[0]), "v1"; got != want {
		t.Errorf("host serves %q, want %q", got, want)
	}
}
