package hosttest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/docker"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
)

// Label is carried by every container and network this package makes, with the value "1"; LabelRun
// carries a value unique to one call of Start.
const (
	Label    = "baleen.test"
	LabelRun = "baleen.test.run"
)

// ImageRepo is the repository of the host image; its tag is the first 12 hex digits of the SHA-256 of
// scripts/host-image.sh, so a changed script makes a new image.
const ImageRepo = "baleen-test/host"

// RegistryRepo is the repository of the test registry image, built FROM scratch from Debian's
// docker-registry and the libraries it links; its tag is a digest of its content.
const RegistryRepo = "baleen-test/registry"

// registryBuild is the BuildID the registry image is built under; nothing removes it.
const registryBuild baleen.BuildID = "hosttest-registry"

// registryBinary is Debian's registry (the docker-registry package).
const registryBinary = "/usr/bin/docker-registry"

// capabilities are the ones systemd, sshd and an inner Docker engine need, found by elimination: SYS_ADMIN
// for systemd's mounts and the units' sandboxing namespaces, NET_ADMIN for the inner engine's bridge and
// iptables rules (without it dockerd fails to start). --privileged is no option: the machines the suite
// runs on lack CAP_SYS_RESOURCE in their bounding set.
var capabilities = []string{"SYS_ADMIN", "NET_ADMIN"}

// readyTimeout bounds the wait for a host's systemd and sshd.
const readyTimeout = 90 * time.Second

// Host is one running host container.
type Host struct {
	// Addr is sshd's address as published on the outer machine: "127.0.0.1:PORT".
	Addr string
	// KnownHostsLines are the known_hosts lines of the host's keys under Addr.
	KnownHostsLines []string
	// Container is the container's id; Name its name and its hostname on the network.
	Container string
	Name      string
}

// Options says what Start starts beside the hosts.
type Options struct {
	// Registry starts a registry container "registry" on the hosts' network, published on
	// 127.0.0.1:PORT, and forwards 127.0.0.1:PORT inside every host to it, so that
	// "127.0.0.1:PORT/name@sha256:..." names the same image outside and inside the hosts.
	Registry bool
}

// Fleet is what Start started.
type Fleet struct {
	Hosts []Host
	// Identity is the path of the private key authorized for root on every host.
	Identity string
	// KnownHosts is the path of a known_hosts file with every host's keys.
	KnownHosts string
	// Registry is "127.0.0.1:PORT" when Options.Registry was set.
	Registry string
	// Network is the name of the hosts' network.
	Network string

	engine *docker.Engine
}

// Image returns the reference of the host image, failing the test when it is missing and CI is set, and
// skipping it otherwise.
func Image(t testing.TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("find the module root: %v", err)
	}
	script, err := os.ReadFile(filepath.Join(root, "scripts", "host-image.sh"))
	if err != nil {
		t.Fatalf("read the host image script: %v", err)
	}
	sum := sha256.Sum256(script)
	ref := ImageRepo + ":" + hex.EncodeToString(sum[:])[:12]
	e := dockertest.Engine(t)
	if _, err := e.Client().ImageInspect(t.Context(), ref); err != nil {
		if !cerrdefs.IsNotFound(err) {
			t.Fatalf("inspect image %s: %v", ref, err)
		}
		if os.Getenv("CI") != "" {
			t.Fatalf("host image %s is missing: run scripts/host-image.sh", ref)
		}
		t.Skipf("host image %s is missing, skipping (run scripts/host-image.sh)", ref)
	}
	return ref
}

// moduleRoot finds the directory of go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Start starts n hosts (and a registry when opts says so) on a network of their own, waits until each
// runs systemd and answers SSH with a fresh client key, and removes everything when the test ends.
func Start(t testing.TB, n int, opts Options) *Fleet {
	t.Helper()
	image := Image(t)
	e := dockertest.Engine(t)
	c := e.Client()
	ctx := t.Context()
	run := strings.ToLower(rand.Text()[:10])
	labels := map[string]string{Label: "1", LabelRun: run}
	f := &Fleet{Network: "baleen-test-" + run, engine: e}

	var ids []string
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		for _, id := range ids {
			_, err := c.ContainerRemove(cctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			if err != nil && !cerrdefs.IsNotFound(err) {
				t.Errorf("remove host container %s: %v", id, err)
			}
		}
		if _, err := c.NetworkRemove(cctx, f.Network, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("remove network %s: %v", f.Network, err)
		}
	})
	if _, err := c.NetworkCreate(ctx, f.Network, client.NetworkCreateOptions{Driver: "bridge", Labels: labels}); err != nil {
		t.Fatalf("create network %s: %v", f.Network, err)
	}

	var forward []byte
	if opts.Registry {
		ref := registryImage(t, e)
		id := create(t, c, f.Network, "registry", "registry", ref, nil, labels, "5000/tcp")
		ids = append(ids, id)
		if _, err := c.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
			t.Fatalf("start registry: %v", err)
		}
		port := publishedPort(t, c, id, "5000/tcp")
		f.Registry = "127.0.0.1:" + port
		forward = fmt.Appendf(nil, "PORT=%s\nTARGET=registry:5000\n", port)
	}

	key, pub := clientKey(t)
	dir := t.TempDir()
	f.Identity = filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(f.Identity, key, 0o600); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"root/.ssh/authorized_keys": pub}
	if forward != nil {
		files["etc/baleen/registry-forward.env"] = forward
	}
	for i := range n {
		name := fmt.Sprintf("baleen-host-%s-%d", run, i)
		id := create(t, c, f.Network, name, fmt.Sprintf("host%d", i), image, capabilities, labels, "22/tcp")
		ids = append(ids, id)
		if err := copyFiles(ctx, c, id, files); err != nil {
			t.Fatalf("write files into host %s: %v", name, err)
		}
		if _, err := c.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
			t.Fatalf("start host %s: %v", name, err)
		}
		f.Hosts = append(f.Hosts, Host{
			Addr:      "127.0.0.1:" + publishedPort(t, c, id, "22/tcp"),
			Container: id,
			Name:      name,
		})
	}
	var known []string
	for i := range f.Hosts {
		f.waitReady(t, &f.Hosts[i], key)
		known = append(known, f.Hosts[i].KnownHostsLines...)
	}
	f.KnownHosts = filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(f.KnownHosts, []byte(strings.Join(known, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// create creates a container on net from image with port published on 127.0.0.1 and returns its id. With
// caps it is a host: systemd as PID 1 with those capabilities, the cgroup tree and tmpfs mounts it needs.
func create(t testing.TB, c client.APIClient, net, name, hostname, image string, caps []string, labels map[string]string, port string) string {
	t.Helper()
	p, err := network.ParsePort(port)
	if err != nil {
		t.Fatal(err)
	}
	hc := &container.HostConfig{
		NetworkMode:  container.NetworkMode(net),
		PortBindings: network.PortMap{p: {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: ""}}},
	}
	cfg := &container.Config{
		Image:        image,
		Hostname:     hostname,
		Labels:       labels,
		ExposedPorts: network.PortSet{p: {}},
	}
	if caps != nil {
		cfg.Cmd = []string{"/lib/systemd/systemd"}
		cfg.Env = []string{"container=docker"}
		hc.CapAdd = caps
		hc.SecurityOpt = []string{"seccomp=unconfined", "apparmor=unconfined"}
		hc.Binds = []string{"/sys/fs/cgroup:/sys/fs/cgroup:rw"}
		hc.Tmpfs = map[string]string{"/run": "rw,exec", "/run/lock": "rw", "/tmp": "rw,exec"}
	}
	res, err := c.ContainerCreate(t.Context(), client.ContainerCreateOptions{
		Name:             name,
		Config:           cfg,
		HostConfig:       hc,
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{net: {Aliases: []string{hostname}}}},
	})
	if err != nil {
		t.Fatalf("create container %s from %s: %v", name, image, err)
	}
	return res.ID
}

// publishedPort reads back the port the engine published port on.
func publishedPort(t testing.TB, c client.APIClient, id, port string) string {
	t.Helper()
	p, err := network.ParsePort(port)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.ContainerInspect(t.Context(), id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("inspect container %s: %v", id, err)
	}
	if res.Container.NetworkSettings != nil {
		for _, b := range res.Container.NetworkSettings.Ports[p] {
			if b.HostIP.String() == "127.0.0.1" && b.HostPort != "" {
				return b.HostPort
			}
		}
	}
	t.Fatalf("container %s: port %s is not published on 127.0.0.1", id, port)
	return ""
}

// copyFiles writes files (paths relative to /, in directories the image has) into a container, root-owned
// and mode 0600.
func copyFiles(ctx context.Context, c client.APIClient, id string, files map[string][]byte) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o600, Size: int64(len(data))}); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	_, err := c.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: "/", Content: &buf})
	return err
}

// clientKey makes a fresh ed25519 key pair: the private key as OpenSSH PEM and the authorized_keys line.
func clientKey(t testing.TB) ([]byte, []byte) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "hosttest")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block), ssh.MarshalAuthorizedKey(sp)
}

// waitReady polls until systemd reports the host running, reads its host keys and logs in over SSH with
// key, all within readyTimeout.
func (f *Fleet) waitReady(t testing.TB, h *Host, key []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), readyTimeout)
	defer cancel()
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	var last string
	for {
		state, err := f.Exec(ctx, *h, "systemctl", "is-system-running")
		state = strings.TrimSpace(state)
		last = fmt.Sprintf("systemctl is-system-running: %q (%v)", state, err)
		if state == "running" || state == "degraded" {
			keys, err := f.Exec(ctx, *h, "sh", "-c", "cat /etc/ssh/ssh_host_*_key.pub")
			last = fmt.Sprintf("read host keys: %v", err)
			if err == nil {
				h.KnownHostsLines, err = knownLines(h.Addr, keys)
				last = fmt.Sprintf("parse host keys: %v", err)
				if err == nil {
					err = tryLogin(ctx, h, signer)
					last = fmt.Sprintf("ssh login: %v", err)
					if err == nil {
						if state == "degraded" {
							out, _ := f.Exec(ctx, *h, "systemctl", "--failed", "--no-pager")
							t.Logf("host %s is degraded:\n%s", h.Name, out)
						}
						return
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			out, _ := f.Exec(context.WithoutCancel(ctx), *h, "systemctl", "--failed", "--no-pager")
			t.Fatalf("host %s not ready within %v: %s\n%s", h.Name, readyTimeout, last, out)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// knownLines turns the host's public keys into known_hosts lines for addr.
func knownLines(addr, keys string) ([]string, error) {
	var lines []string
	for l := range strings.Lines(keys) {
		if strings.TrimSpace(l) == "" {
			continue
		}
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(l))
		if err != nil {
			return nil, err
		}
		lines = append(lines, knownhosts.Line([]string{addr}, k))
	}
	if len(lines) == 0 {
		return nil, errors.New("no host keys yet")
	}
	return lines, nil
}

// tryLogin opens an SSH session as root on h, checking the host key against h's lines.
func tryLogin(ctx context.Context, h *Host, signer ssh.Signer) error {
	keys := map[string]bool{}
	for _, l := range h.KnownHostsLines {
		_, _, k, _, _, err := ssh.ParseKnownHosts([]byte(l))
		if err != nil {
			return err
		}
		keys[string(k.Marshal())] = true
	}
	cfg := &ssh.ClientConfig{
		User: "root",
		Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			if !keys[string(k.Marshal())] {
				return errors.New("unexpected host key")
			}
			return nil
		},
		Timeout: 5 * time.Second,
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", h.Addr)
	if err != nil {
		return err
	}
	cc, chans, reqs, err := ssh.NewClientConn(conn, h.Addr, cfg)
	if err != nil {
		conn.Close()
		return err
	}
	cl := ssh.NewClient(cc, chans, reqs)
	defer cl.Close()
	s, err := cl.NewSession()
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Run("true")
}

// Exec runs argv in host h's container (as root, outside any SSH session) and returns its output. A
// non-zero exit is an error that carries the output.
func (f *Fleet) Exec(ctx context.Context, h Host, argv ...string) (string, error) {
	var out bytes.Buffer
	code, err := f.engine.Exec(ctx, h.Container, argv, &out)
	if err != nil {
		return out.String(), err
	}
	if code != 0 {
		return out.String(), fmt.Errorf("%s exited %d: %s", strings.Join(argv, " "), code, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// registryImage returns the test registry image, building it on first use.
func registryImage(t testing.TB, e *docker.Engine) string {
	t.Helper()
	files := fstest.MapFS{}
	add := func(name, path string, mode os.FileMode) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read %s for the test registry (apt-get install docker-registry): %v", path, err)
		}
		files[name] = &fstest.MapFile{Data: data, Mode: mode}
	}
	add("registry", registryBinary, 0o755)
	libs, err := linkedLibraries(registryBinary)
	if err != nil {
		t.Fatalf("libraries of %s: %v", registryBinary, err)
	}
	dockerfile := "FROM scratch\nCOPY registry /bin/registry\nCOPY config.yml /etc/registry/config.yml\n"
	for i, lib := range libs {
		name := "lib" + strconv.Itoa(i)
		add(name, lib, 0o755)
		dockerfile += fmt.Sprintf("COPY %s %s\n", name, lib)
	}
	dockerfile += `ENTRYPOINT ["/bin/registry", "serve", "/etc/registry/config.yml"]` + "\n"
	files["Dockerfile"] = &fstest.MapFile{Data: []byte(dockerfile), Mode: 0o644}
	files["config.yml"] = &fstest.MapFile{Data: []byte(registryConfig), Mode: 0o644}

	h := sha256.New()
	for _, name := range []string{"Dockerfile", "config.yml", "registry"} {
		h.Write(files[name].Data)
	}
	for i := range libs {
		h.Write(files["lib"+strconv.Itoa(i)].Data)
	}
	ref := RegistryRepo + ":" + hex.EncodeToString(h.Sum(nil))[:16]
	if _, err := e.Client().ImageInspect(t.Context(), ref); err == nil {
		return ref
	} else if !cerrdefs.IsNotFound(err) {
		t.Fatalf("inspect image %s: %v", ref, err)
	}
	var out strings.Builder
	req := baleen.ImageRequest{Image: baleen.ImageBuild{Name: RegistryRepo, Dockerfile: "Dockerfile"}, Context: files, Ref: ref}
	if err := e.BuildImage(t.Context(), registryBuild, req, &out); err != nil {
		t.Fatalf("build %s: %v\noutput:\n%s", ref, err, out.String())
	}
	return ref
}

// registryConfig serves an anonymous registry on :5000 with its blobs in the container.
const registryConfig = `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
`

// linkedLibraries lists the shared libraries ldd says bin loads, the dynamic loader among them.
func linkedLibraries(bin string) ([]string, error) {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", bin, err)
	}
	var libs []string
	for l := range strings.Lines(string(out)) {
		fields := strings.Fields(l)
		for i, f := range fields {
			if strings.HasPrefix(f, "/") && (i == 0 || fields[i-1] == "=>") {
				libs = append(libs, f)
			}
		}
	}
	return libs, nil
}

// AddUser makes name a user on every host that logs in with the fleet's key and may run anything as root
// through "sudo -n", as Flatcar's core user may.
func (f *Fleet) AddUser(t testing.TB, name string) {
	t.Helper()
	script := fmt.Sprintf(`set -e
id -u %[1]s >/dev/null 2>&1 || useradd --create-home --shell /bin/sh --groups docker %[1]s
install -d -m 0700 -o %[1]s -g %[1]s /home/%[1]s/.ssh
install -m 0600 -o %[1]s -g %[1]s /root/.ssh/authorized_keys /home/%[1]s/.ssh/authorized_keys
echo '%[1]s ALL=(root) NOPASSWD: ALL' > /etc/sudoers.d/%[1]s
chmod 0440 /etc/sudoers.d/%[1]s`, name)
	for _, h := range f.Hosts {
		if out, err := f.Exec(t.Context(), h, "sh", "-c", script); err != nil {
			t.Fatalf("host %s: add user %s: %v\n%s", h.Name, name, err, out)
		}
	}
}
