package gitd

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/baleen-ci/baleen/access"
)

// TestKeyMovedToAnotherUserRefused stops a key that the config moved from one user to another from acting,
// on a connection it opened as the first user, with the first user's name: the connection's identity no
// longer stands, even though the key is still listed.
func TestKeyMovedToAnotherUserRefused(t *testing.T) {
	key := makeKey(t)
	dir := t.TempDir()
	alice, bob := filepath.Join(dir, "alice.pub"), filepath.Join(dir, "bob.pub")
	write := func(path, content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(alice, key.line+"\n")
	write(bob, "")
	cfg, err := access.Parse("config.yml", []byte("users:\n  alice: {key_files: ["+alice+"]}\n  bob: {key_files: ["+bob+"]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{keys: &authorizedKeys{lookup: access.New(access.Options{Config: cfg})}}
	conn, err := handshake(t, s.keys, key.signer)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := connIdentity(conn)
	c := &call{conn: conn, identity: id, fingerprint: id.Fingerprint}
	if id.User != "alice" || !s.stillAuthorized(c) {
		t.Fatalf("before the move: user %q, still authorized %v; want alice, true", id.User, s.stillAuthorized(c))
	}
	write(alice, "")
	write(bob, key.line+"\n")
	if s.stillAuthorized(c) {
		t.Error("the key moved to bob still acts as alice on the connection it opened as alice")
	}
	if s.stillAuthorized(&call{identity: id}) {
		t.Error("a call without a connection counts as authorized")
	}
}
