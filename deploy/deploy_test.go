package deploy_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/deploy"
	"github.com/baleen-ci/baleen/deploy/hosttest"
	"github.com/baleen-ci/baleen/pipeline/docker"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
)

// testGrace keeps the tests' grace period short; the default suits production.
const testGrace = 2 * time.Second

// appImage builds an image that serves version at / and, when healthy, at /health, with busybox httpd on
// port 8000, and returns its per-build tag.
func appImage(t *testing.T, e *docker.Engine, id baleen.BuildID, version string, healthy bool) string {
	t.Helper()
	health := ""
	if healthy {
		health = " && echo ok > /www/health"
	}
	// httpd runs as a child of a shell that stops it on SIGTERM: as PID 1 it would ignore the signal and
	// every docker stop would wait out its grace.
	dockerfile := fmt.Sprintf("FROM %s\nRUN mkdir -p /www && echo %s > /www/index.html%s\nCMD %s\n",
		dockertest.BusyboxImage(t), version, health, serveCmd)
	ref := id.ImageTag("baleen-test/app-" + version)
	req := baleen.ImageRequest{
		Image:   baleen.ImageBuild{Name: "app", Dockerfile: "Dockerfile"},
		Context: fstest.MapFS{"Dockerfile": {Data: []byte(dockerfile), Mode: 0o644}},
		Ref:     ref,
	}
	var out strings.Builder
	if err := e.BuildImage(t.Context(), id, req, &out); err != nil {
		t.Fatalf("build %s: %v\n%s", ref, err, out.String())
	}
	return ref
}

// serveCmd runs busybox httpd on port 8000 until SIGTERM.
const serveCmd = `["sh", "-c", "echo serving; httpd -f -p 8000 -h /www & pid=$!; trap 'kill $pid; exit 0' TERM; wait $pid"]`

// setup starts n hosts and returns them with a deployer for the target "test" made of them.
func setup(t *testing.T, n int, opts hosttest.Options) (*hosttest.Fleet, *docker.Engine, baleen.BuildID, *deploy.Deployer) {
	t.Helper()
	f := hosttest.Start(t, n, opts)
	e := dockertest.Engine(t)
	id := dockertest.BuildID(t)
	dockertest.Cleanup(t, e, id)
	var hosts []string
	for _, h := range f.Hosts {
		hosts = append(hosts, h.Addr)
	}
	d := deploy.New(deploy.Options{
		Targets: map[string]deploy.Target{"test": {
			Name: "test", User: "root", Identity: f.Identity, KnownHosts: f.KnownHosts, Hosts: hosts,
		}},
		Images: e,
		Secret: func(name string) (string, bool) {
			if name == "DB_PASSWORD" {
				return secretValue, true
			}
			return "", false
		},
		Grace: testGrace,
	})
	return f, e, id, d
}

// secretValue is a credential that must never appear in output or messages.
const secretValue = "s3cr3t-value-never-printed"

// webUnit is a unit serving the app on the host's port 8080.
func webUnit(healthTimeout time.Duration) baleen.DeployUnit {
	return baleen.DeployUnit{
		Name:        "web",
		Image:       "app",
		Ports:       []string{"127.0.0.1:8080:8000"},
		Env:         map[string]string{"LOG_LEVEL": "info"},
		Credentials: []string{"DB_PASSWORD"},
		Health:      baleen.Health{HTTP: "http://127.0.0.1:8080/health", Timeout: healthTimeout},
	}
}

// sideUnit is a second unit of the same image on port 8081, without a health check.
func sideUnit() baleen.DeployUnit {
	return baleen.DeployUnit{Name: "side", Image: "app", Ports: []string{"127.0.0.1:8081:8000"}}
}

// serves fetches / from port 8080 inside host h, as the host itself sees it.
func serves(t *testing.T, f *hosttest.Fleet, h hosttest.Host) string {
	t.Helper()
	return servesOn(t, f, h, 8080)
}

// servesOn fetches / from port inside host h. A unit without a health check counts as up once it stayed
// active through the grace period, which on a loaded machine may be before its server listens: a port
// that does not answer yet is asked again for up to 30 seconds.
func servesOn(t *testing.T, f *hosttest.Fleet, h hosttest.Host, port int) string {
	t.Helper()
	probe := fmt.Sprintf(`exec 3<>/dev/tcp/127.0.0.1/%d && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && cat <&3`, port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := f.Exec(t.Context(), h, "bash", "-c", probe)
		if err == nil {
			_, body, _ := strings.Cut(out, "\r\n\r\n")
			return strings.TrimSpace(body)
		}
		if time.Now().After(deadline) {
			return "unreachable: " + err.Error()
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// deployOK deploys and fails the test unless every host passed.
func deployRelease(t *testing.T, d *deploy.Deployer, project string, number int, image, strategy string, units ...baleen.DeployUnit) ([]baleen.HostResult, string) {
	t.Helper()
	r := baleen.Release{Project: project, Number: number, Build: number, Target: "test", Images: map[string]string{"app": image}}
	spec := baleen.Deploy{Target: "test", Strategy: strategy, Units: units}
	var out strings.Builder
	start := time.Now()
	res, err := d.Deploy(t.Context(), r, spec, &out)
	t.Logf("release %d took %v:\n%s", number, time.Since(start), out.String())
	if err != nil {
		t.Fatalf("deploy release %d: %v\n%s", number, err, out.String())
	}
	if strings.Contains(out.String(), secretValue) {
		t.Errorf("deploy output carries the credential's value:\n%s", out.String())
	}
	for _, hr := range res {
		if strings.Contains(hr.Message, secretValue) {
			t.Errorf("host %s: message carries the credential's value", hr.Host)
		}
	}
	return res, out.String()
}

func statuses(res []baleen.HostResult) []baleen.Status {
	var s []baleen.Status
	for _, r := range res {
		s = append(s, r.Status)
	}
	return s
}

func TestDeployRollingThenBrokenThenAll(t *testing.T) {
	f, e, id, d := setup(t, 2, hosttest.Options{})
	v1 := appImage(t, e, id, "v1", true)
	v2 := appImage(t, e, id, "v2", false)
	v3 := appImage(t, e, id, "v3", true)

	res, out := deployRelease(t, d, "shop", 1, v1, "", sideUnit(), webUnit(20*time.Second))
	if got, want := fmt.Sprint(statuses(res)), "[passed passed]"; got != want {
		t.Fatalf("release 1: got %s, want %s\n%s", got, want, out)
	}
	for _, h := range f.Hosts {
		if got, want := serves(t, f, h), "v1"; got != want {
			t.Errorf("release 1: host %s serves %q, want %q", h.Name, got, want)
		}
		if got, want := servesOn(t, f, h, 8081), "v1"; got != want {
			t.Errorf("release 1: host %s serves %q on 8081, want %q", h.Name, got, want)
		}
		mode, err := f.Exec(t.Context(), h, "stat", "-c", "%a %U", "/etc/baleen/baleen-shop..web.env")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.TrimSpace(mode), "600 root"; got != want {
			t.Errorf("host %s: env file mode %q, want %q", h.Name, got, want)
		}
	}

	// Release 2 never passes its health check: the first host goes back to release 1, both units of it,
	// and the second is not touched. The check is given long enough to see the app answer 404, even on a
	// loaded machine where it starts slowly.
	res, out = deployRelease(t, d, "shop", 2, v2, "rolling", sideUnit(), webUnit(20*time.Second))
	if got, want := fmt.Sprint(statuses(res)), "[failed queued]"; got != want {
		t.Fatalf("release 2: got %s, want %s\n%s", got, want, out)
	}
	msg := res[0].Message
	for _, want := range []string{f.Hosts[0].Addr, "baleen-shop..web.service", "health check http://127.0.0.1:8080/health", "404", "back on release 1", "last journal lines"} {
		if !strings.Contains(msg, want) {
			t.Errorf("release 2: failure message lacks %q:\n%s", want, msg)
		}
	}
	for _, h := range f.Hosts {
		if got, want := serves(t, f, h), "v1"; got != want {
			t.Errorf("release 2: host %s serves %q, want %q", h.Name, got, want)
		}
		if got, want := servesOn(t, f, h, 8081), "v1"; got != want {
			t.Errorf("release 2: host %s serves %q on 8081, want %q", h.Name, got, want)
		}
	}
	if img, err := f.Exec(t.Context(), f.Hosts[1], "docker", "image", "ls", "--quiet", v2); err != nil || strings.TrimSpace(img) != "" {
		t.Errorf("release 2: the untouched host has image %s (%q, %v), want it absent", v2, img, err)
	}

	res, out = deployRelease(t, d, "shop", 3, v3, "all", webUnit(20*time.Second))
	if got, want := fmt.Sprint(statuses(res)), "[passed passed]"; got != want {
		t.Fatalf("release 3: got %s, want %s\n%s", got, want, out)
	}
	for _, h := range f.Hosts {
		if got, want := serves(t, f, h), "v3"; got != want {
			t.Errorf("release 3: host %s serves %q, want %q", h.Name, got, want)
		}
	}

	st, err := d.Status(t.Context(), "shop", "test", []string{"web"})
	if err != nil {
		t.Fatal(err)
	}
	for _, hs := range st {
		if hs.Err != "" || len(hs.Units) != 1 || hs.Units[0].Active != "active" || hs.Units[0].Release != 3 {
			t.Errorf("status of %s: got %+v, want baleen-shop..web.service active on release 3", hs.Host, hs)
		}
	}
	var journal strings.Builder
	if err := d.Journal(t.Context(), baleen.JournalQuery{Project: "shop", Target: "test", Unit: "web", Lines: 5}, &journal); err != nil {
		t.Fatalf("journal: %v", err)
	}
	for _, h := range f.Hosts {
		if !strings.Contains(journal.String(), h.Addr+": ") {
			t.Errorf("journal lacks lines of %s:\n%s", h.Addr, journal.String())
		}
	}

	// Following one host's journal goes on until the context ends. Once the stream runs (its first
	// line, from history, arrived), restart the unit and wait for the line that says it stopped.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	w := &waitWriter{want: "Stopped baleen-shop..web.service - Baleen shop web: release 3", found: cancel, started: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		done <- d.Journal(ctx, baleen.JournalQuery{Project: "shop", Target: "test", Unit: "web", Host: f.Hosts[1].Addr, Lines: 1, Follow: true}, w)
	}()
	select {
	case <-w.started:
	case <-ctx.Done():
		t.Fatalf("followed journal: no first line: %v", <-done)
	}
	if _, err := f.Exec(t.Context(), f.Hosts[1], "systemctl", "restart", "baleen-shop..web.service"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("follow journal: %v", err)
	}
	if !w.seen() {
		t.Errorf("followed journal: got %q, want a line with %q", w.String(), w.want)
	}
}

// waitWriter collects output, closes started on the first write and calls found once the output contains
// want.
type waitWriter struct {
	mu      sync.Mutex
	b       strings.Builder
	want    string
	found   func()
	hit     bool
	begun   bool
	started chan struct{}
}

func (w *waitWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.begun {
		w.begun = true
		close(w.started)
	}
	w.b.Write(p)
	if !w.hit && strings.Contains(w.b.String(), w.want) {
		w.hit = true
		w.found()
	}
	return len(p), nil
}

func (w *waitWriter) seen() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hit
}

func (w *waitWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
