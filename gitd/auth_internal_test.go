package gitd

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/access"
)

// clientKey is a client's key pair and its authorized_keys line.
type clientKey struct {
	signer gossh.Signer
	line   string
}

func makeKey(t *testing.T) clientKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return clientKey{signer: s, line: strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.PublicKey())))}
}

// handshake runs a real SSH handshake on loopback between a server that authenticates with a and a client
// that signs with key, and returns the server's side of the connection.
func handshake(t *testing.T, a *authorizedKeys, key gossh.Signer) (*gossh.ServerConn, error) {
	t.Helper()
	hostKey := makeKey(t).signer
	cfg := &gossh.ServerConfig{
		// As gliderlabs/ssh does: the offer is only checked; the identity comes from the verified key.
		PublicKeyCallback: func(_ gossh.ConnMetadata, k gossh.PublicKey) (*gossh.Permissions, error) {
			if !a.authorized(k) {
				return nil, errors.New("not authorized")
			}
			return &gossh.Permissions{}, nil
		},
		VerifiedPublicKeyCallback: func(_ gossh.ConnMetadata, k gossh.PublicKey, _ *gossh.Permissions, _ string) (*gossh.Permissions, error) {
			return a.permissions(k)
		},
	}
	cfg.AddHostKey(hostKey)
	// A loopback connection, not net.Pipe: both sides send their version before reading the other's.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sc.Close(); _ = cc.Close() })
	type result struct {
		conn *gossh.ServerConn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		conn, chans, reqs, err := gossh.NewServerConn(sc, cfg)
		if err == nil {
			go gossh.DiscardRequests(reqs)
			go func() {
				for c := range chans {
					_ = c.Reject(gossh.Prohibited, "none here")
				}
			}()
		}
		done <- result{conn, err}
	}()
	client, _, _, cerr := gossh.NewClientConn(cc, l.Addr().String(), &gossh.ClientConfig{
		User: "git", Auth: []gossh.AuthMethod{gossh.PublicKeys(key)}, HostKeyCallback: gossh.FixedHostKey(hostKey.PublicKey()),
		Timeout: 10 * time.Second,
	})
	if cerr == nil {
		t.Cleanup(func() { _ = client.Close() })
	} else {
		_ = cc.Close()
	}
	r := <-done
	return r.conn, errors.Join(r.err, cerr)
}

// TestAuthorizedKeysOptionsFailClosed stops a key whose authorized_keys line limits it (from=, command=,
// restrict) from being let in without those limits: Baleen honours no options, so it leaves such keys out.
func TestAuthorizedKeysOptionsFailClosed(t *testing.T) {
	plain, limited := makeKey(t), makeKey(t)
	path := filepath.Join(t.TempDir(), "authorized_keys")
	data := "# keys\n" + plain.line + " alice\n" + `from="10.0.0.0/8",restrict ` + limited.line + " bob\nnot a key\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &authorizedKeys{path: path}
	if !a.authorized(plain.signer.PublicKey()) {
		t.Error("the plain key is not authorized")
	}
	if a.authorized(limited.signer.PublicKey()) {
		t.Error("a key with options is authorized without its limits")
	}
}

// TestHandshakeIdentity checks that a connection carries the identity of the key its client signed with:
// the user's name, fingerprint and e-mail for a named user, the fingerprint for a key of the plain file.
func TestHandshakeIdentity(t *testing.T) {
	alice, root, stranger := makeKey(t), makeKey(t), makeKey(t)
	dir := t.TempDir()
	plain := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(plain, []byte(root.line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := access.Parse("config.yml", []byte("users:\n  alice: {keys: [\""+alice.line+"\"], email: a@example.com}\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := &authorizedKeys{lookup: access.New(access.Options{Config: cfg, AuthorizedKeys: plain})}
	fp := func(k clientKey) string { return gossh.FingerprintSHA256(k.signer.PublicKey()) }
	for _, tc := range []struct {
		name string
		key  clientKey
		want baleen.Identity
	}{
		{"named user", alice, baleen.Identity{User: "alice", Fingerprint: fp(alice), Email: "a@example.com"}},
		{"plain authorized keys file", root, baleen.Identity{User: fp(root), Fingerprint: fp(root)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := handshake(t, a, tc.key.signer)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := connIdentity(conn)
			if !ok || got != tc.want {
				t.Errorf("got %+v, %v, want %+v", got, ok, tc.want)
			}
			ctx := WithIdentity(t.Context(), got)
			if back, ok := IdentityFrom(ctx); !ok || back != tc.want {
				t.Errorf("from context: got %+v, %v, want %+v", back, ok, tc.want)
			}
		})
	}
	if _, err := handshake(t, a, stranger.signer); err == nil {
		t.Error("an unknown key got in")
	}
	if _, ok := IdentityFrom(t.Context()); ok {
		t.Error("a context without an identity has one")
	}
}

// TestRemovedKeyRefusedOnOpenConnection stops a revoked key from acting through a connection it opened
// before its removal, and from opening a new one, even when the key file keeps its size and mtime.
func TestRemovedKeyRefusedOnOpenConnection(t *testing.T) {
	bob, other := makeKey(t), makeKey(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "bob.pub")
	if err := os.WriteFile(file, []byte(bob.line+" bob\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := access.Parse("config.yml", []byte("users:\n  bob: {key_files: ["+file+"]}\naccess:\n  - {projects: [\"*\"], users: [bob], role: write}\n"))
	if err != nil {
		t.Fatal(err)
	}
	policy := access.New(access.Options{Config: cfg})
	a := &authorizedKeys{lookup: policy}
	conn, err := handshake(t, a, bob.signer)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := connIdentity(conn)
	if err := baleen.Require(t.Context(), policy, id, "shop", baleen.RoleWrite); err != nil {
		t.Fatalf("before removal: %v", err)
	}
	// Another key of the same type, with the same comment: the same size. The mtime is put back.
	if err := os.WriteFile(file, []byte(other.line+" bob\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(file, time.Time{}, fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if after, err := os.Stat(file); err != nil || after.Size() != fi.Size() || !after.ModTime().Equal(fi.ModTime()) {
		t.Fatalf("size and mtime not kept: %v", err)
	}
	err = baleen.Require(t.Context(), policy, id, "shop", baleen.RoleWrite)
	if !errors.Is(err, baleen.ErrUnauthorized) {
		t.Errorf("open connection after removal: got %v, want ErrUnauthorized", err)
	}
	if _, err := handshake(t, a, bob.signer); err == nil {
		t.Error("the removed key opened a new connection")
	}
}
