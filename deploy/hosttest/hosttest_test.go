package hosttest_test

import (
	"strings"
	"testing"

	"github.com/baleen-ci/baleen/deploy/hosttest"
)

// TestStart checks the fixture itself: the hosts run systemd and their own Docker engine, and the registry
// answers inside each host under the address it has outside.
func TestStart(t *testing.T) {
	f := hosttest.Start(t, 2, hosttest.Options{Registry: true})
	if got, want := len(f.Hosts), 2; got != want {
		t.Fatalf("got %d hosts, want %d", got, want)
	}
	port := strings.TrimPrefix(f.Registry, "127.0.0.1:")
	for _, h := range f.Hosts {
		out, err := f.Exec(t.Context(), h, "docker", "info", "--format", "{{.Driver}}")
		if err != nil {
			t.Fatalf("host %s: docker info: %v", h.Name, err)
		}
		if got, want := strings.TrimSpace(out), "vfs"; got != want {
			t.Errorf("host %s: got storage driver %q, want %q", h.Name, got, want)
		}
		probe := `exec 3<>/dev/tcp/127.0.0.1/` + port + ` && printf 'GET /v2/ HTTP/1.0\r\n\r\n' >&3 && head -n1 <&3`
		out, err = f.Exec(t.Context(), h, "bash", "-c", probe)
		if err != nil {
			t.Fatalf("host %s: reach the registry: %v", h.Name, err)
		}
		if !strings.Contains(out, "200") {
			t.Errorf("host %s: registry answered %q, want HTTP 200", h.Name, strings.TrimSpace(out))
		}
	}
}
