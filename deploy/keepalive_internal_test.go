package deploy

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
)

// silentSSH starts an SSH server on 127.0.0.1:0 that completes the handshake and then never answers
// anything: a host that hung, or whose network dropped every packet, after Baleen logged in. It returns a
// target that trusts it and its address.
func silentSSH(t *testing.T) (Target, string) {
	t.Helper()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{NoClientAuth: true}
	cfg.AddHostKey(hostSigner)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			// Neither the channels nor the requests are ever served: the client hears nothing more.
			go func() { _, _, _, _ = ssh.NewServerConn(c, cfg) }()
		}
	}()
	addr := l.Addr().String()

	_, clientPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(clientPriv, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	id, known := filepath.Join(dir, "id"), filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(id, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(known, []byte(knownhosts.Line([]string{addr}, hostSigner.PublicKey())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return Target{Name: "test", User: "root", Identity: id, KnownHosts: known, Hosts: []string{addr}}, addr
}

// TestSilentHostEndsCommand stops a rollout from hanging for ever on a host that stopped answering after
// the login (a hung kernel, a dropped network): the connection's keepalives go unanswered, the connection
// is closed, and the command fails with a message naming the host, although its context has no deadline.
func TestSilentHostEndsCommand(t *testing.T) {
	target, addr := silentSSH(t)
	h, err := connect(t.Context(), target, addr, time.Second)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer h.Close()
	done := make(chan error, 1)
	go func() { done <- h.run(t.Context(), "true", nil, nil) }()
	// A bound on the wait for the outcome, far beyond the keepalive's, so that a hang fails the test
	// rather than the whole run.
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), addr) {
			t.Errorf("got %v, want an error naming %s", err, addr)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("a command on a host that stopped answering did not return")
	}
}
