package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeAccess stops, against the real server, what a role does not allow: a reader clones but may not
// push, deploy or cancel, and each refusal names the role; a writer on shop-* may not push to another
// project; a project may not name a credential outside its scope; a key removed from its file with the
// file's size and mtime kept is refused.
func TestServeAccess(t *testing.T) {
	s, reader, shopper, readerFile, _ := accessServer(t)
	r := s.newRepo(projectFiles("e2e-access", greenTest))
	want(t, r.push(s.url("app"), "main"), 0, "remote: created project app", "PASSED in")

	// The reader: clone, and nothing more.
	clone := filepath.Join(t.TempDir(), "clone")
	env := append(gitEnv(s.home), "GIT_SSH_COMMAND="+s.gitSSH(reader))
	want(t, s.exec("", env, "git", "clone", s.url("app"), clone), 0)
	want(t, r.pushWith(reader, s.url("app"), "main:other"), 128, "reader may not do this on app: it needs the write role")
	want(t, s.sshWith(reader, "deploy", "app"), 1, "needs the deploy role")
	want(t, s.sshWith(reader, "cancel", "app"), 1, "needs the write role")
	want(t, s.sshWith(reader, "rebuild", "app"), 1, "needs the write role")
	want(t, s.sshWith(reader, "whoami"), 0, "user reader", "read on app", "app")
	if out := s.sshWith(reader, "projects").stdout; strings.Contains(out, "shop") || !strings.Contains(out, "app") {
		t.Errorf("reader's projects: %s", out)
	}

	// The writer on shop-*: not app; and on shop-x, not app's credential.
	want(t, r.pushWith(shopper, s.url("app"), "main:other"), 128, "shopper may not do this on app: it needs the write role")
	files := projectFiles("e2e-shop", greenTest)
	files["baleen.yml"] += "credentials: [APP_TOKEN]\n"
	shop := s.newRepo(files)
	want(t, shop.pushWith(shopper, s.url("shop-x"), "main"), 1, "credential APP_TOKEN is not available to project shop-x")
	want(t, s.sshWith(shopper, "whoami"), 0, "user shopper", "shop@example.com", "write on shop-*")
	if bs := decodeBuilds(t, s.ssh("builds", "shop-x", "--json").stdout); len(bs) != 1 || !strings.HasPrefix(bs[0].Pusher, "shopper (SHA256:") {
		t.Errorf("shop-x's build: want one, pushed by \"shopper (SHA256:...)\", got %+v", bs)
	}

	// The reader's key is replaced in its file by another of the same size, and the mtime is put back.
	fi, err := os.Stat(readerFile)
	if err != nil {
		t.Fatal(err)
	}
	other := s.newKey("readr2") // a comment of the same length as "reader"
	otherPub, err := os.ReadFile(other + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(otherPub)) != fi.Size() {
		t.Fatalf("the keys differ in size: %d and %d", len(otherPub), fi.Size())
	}
	if err := os.WriteFile(readerFile, otherPub, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(readerFile, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if got := s.sshWith(reader, "whoami"); got.code == 0 {
		t.Errorf("a removed key still logs in:\n%s", got)
	}
	want(t, s.sshWith(other, "whoami"), 0, "user reader")
}
