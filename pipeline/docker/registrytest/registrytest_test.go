package registrytest_test

import (
	"errors"
	"net"
	"syscall"
	"testing"

	"github.com/baleen-ci/baleen/pipeline/docker/registrytest"
)

func TestDown(t *testing.T) {
	addr := registrytest.Down(t)
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("Down: got %q, want host:port: %v", addr, err)
	}
	if host != "127.0.0.1" {
		t.Errorf("Down host: got %q, want 127.0.0.1", host)
	}
	c, err := net.Dial("tcp", addr)
	if err == nil {
		c.Close()
		t.Fatalf("dial %s: got a connection, want it refused", addr)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial %s: got %v, want connection refused", addr, err)
	}
}

func TestRegistries(t *testing.T) {
	anon := registrytest.Anonymous(t)
	addr, user, password := registrytest.WithAuth(t)
	if anon == addr {
		t.Errorf("Anonymous and WithAuth: got the same address %s twice, want two registries", anon)
	}
	if user == "" || password == "" {
		t.Errorf("WithAuth: got user %q and password %q, want both set", user, password)
	}
	for _, a := range []string{anon, addr} {
		if got := registrytest.Tags(t, a, "baleen-test/never-pushed"); got != nil {
			t.Errorf("Tags of a repository nobody pushed at %s: got %v, want nil", a, got)
		}
		if got := registrytest.Digest(t, a, "baleen-test/never-pushed", "v1"); got != "" {
			t.Errorf("Digest of a manifest nobody pushed at %s: got %q, want \"\"", a, got)
		}
	}
}
