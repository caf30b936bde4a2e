package access

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/baleen-ci/baleen"
)

// newKey makes an ed25519 key and returns it with its authorized_keys line (without a newline).
func newKey(t *testing.T, comment string) (gossh.PublicKey, string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k, strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k))) + " " + comment
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// world is a config with alice (admin everywhere), bob (write on shop-*), carol (read on shop-api) and a
// plain authorized keys file holding root's key.
type world struct {
	policy                  *Policy
	alice, bob, carol, root gossh.PublicKey
	bobFile, rootFile       string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	dir := t.TempDir()
	w := &world{}
	var aliceLine, bobLine, carolLine, rootLine string
	w.alice, aliceLine = newKey(t, "alice@laptop")
	w.bob, bobLine = newKey(t, "bob@desk")
	w.carol, carolLine = newKey(t, "carol@home")
	w.root, rootLine = newKey(t, "root")
	w.bobFile = writeFile(t, dir, "bob.pub", bobLine+"\n")
	w.rootFile = writeFile(t, dir, "authorized_keys", rootLine+"\n")
	cfg := `
listen: ":2222"
users:
  alice: {keys: ["` + aliceLine + `"], email: alice@example.com}
  bob:   {key_files: [` + w.bobFile + `]}
  carol: {keys: ["` + carolLine + `"]}
access:
  - {projects: ["shop-*"], users: [bob], role: write}
  - {projects: ["shop-api"], users: [carol], role: read}
  - {projects: ["*"], users: [alice], role: admin}
credentials:
  DB_PASSWORD: {file: /etc/baleen/secrets/db_password, projects: ["shop-*"]}
  API_TOKEN: {env: TOKEN, projects: ["web", "shop-api"]}
`
	c, err := Parse("baleen.yml", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	w.policy = New(Options{Config: c, AuthorizedKeys: w.rootFile})
	return w
}

func (w *world) id(t *testing.T, k gossh.PublicKey) baleen.Identity {
	t.Helper()
	id, ok := w.policy.Lookup(k)
	if !ok {
		t.Fatalf("key %s not authorized", gossh.FingerprintSHA256(k))
	}
	return id
}

func TestLookup(t *testing.T) {
	w := newWorld(t)
	stranger, _ := newKey(t, "stranger")
	for _, tc := range []struct {
		name string
		key  gossh.PublicKey
		want baleen.Identity
		ok   bool
	}{
		{"inline key with e-mail", w.alice, baleen.Identity{User: "alice", Fingerprint: gossh.FingerprintSHA256(w.alice), Email: "alice@example.com"}, true},
		{"key file", w.bob, baleen.Identity{User: "bob", Fingerprint: gossh.FingerprintSHA256(w.bob)}, true},
		{"plain authorized keys file", w.root, baleen.Identity{User: gossh.FingerprintSHA256(w.root), Fingerprint: gossh.FingerprintSHA256(w.root)}, true},
		{"unknown key", stranger, baleen.Identity{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := w.policy.Lookup(tc.key)
			if got != tc.want || ok != tc.ok {
				t.Errorf("got %+v, %v, want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestRoles(t *testing.T) {
	w := newWorld(t)
	alice, bob, carol, root := w.id(t, w.alice), w.id(t, w.bob), w.id(t, w.carol), w.id(t, w.root)
	for _, tc := range []struct {
		who     baleen.Identity
		project string
		want    baleen.Role
	}{
		{bob, "shop-api", baleen.RoleWrite},
		{bob, "shop-new", baleen.RoleWrite}, // creating a project: write on a matching glob
		{bob, "web", baleen.RoleNone},
		{carol, "shop-api", baleen.RoleRead},
		{carol, "shop-web", baleen.RoleNone},
		{alice, "shop-api", baleen.RoleAdmin},
		{alice, "anything", baleen.RoleAdmin},
		{root, "anything", baleen.RoleAdmin},
		// An identity made up with a user's name but another key holds nothing.
		{baleen.Identity{User: "alice", Fingerprint: gossh.FingerprintSHA256(w.bob)}, "shop-api", baleen.RoleNone},
		// Nor does a plain admin's fingerprint under a user's name.
		{baleen.Identity{User: "bob", Fingerprint: gossh.FingerprintSHA256(w.root)}, "shop-api", baleen.RoleNone},
	} {
		t.Run(tc.who.User+"/"+tc.project, func(t *testing.T) {
			if got := w.policy.Role(t.Context(), tc.who, tc.project); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestReadUserCannotPushDeployOrCancel stops a user given read on a project from pushing to it, deploying
// it or cancelling its builds: each entry point asks baleen.Require, whose refusal names the missing role.
func TestReadUserCannotPushDeployOrCancel(t *testing.T) {
	w := newWorld(t)
	carol := w.id(t, w.carol)
	if err := baleen.Require(t.Context(), w.policy, carol, "shop-api", baleen.RoleRead); err != nil {
		t.Errorf("clone: got %v, want allowed", err)
	}
	for _, need := range []baleen.Role{baleen.RoleWrite, baleen.RoleDeploy, baleen.RoleAdmin} {
		err := baleen.Require(t.Context(), w.policy, carol, "shop-api", need)
		if !errors.Is(err, baleen.ErrUnauthorized) {
			t.Fatalf("%s: got %v, want ErrUnauthorized", need, err)
		}
		if !strings.Contains(err.Error(), "needs the "+need.String()+" role") {
			t.Errorf("%s: refusal %q does not name the role", need, err)
		}
	}
}

// TestWriteUserCannotPushElsewhere stops a user given write on shop-* from pushing to (or creating) a
// project outside that glob.
func TestWriteUserCannotPushElsewhere(t *testing.T) {
	w := newWorld(t)
	bob := w.id(t, w.bob)
	if err := baleen.Require(t.Context(), w.policy, bob, "shop-cart", baleen.RoleWrite); err != nil {
		t.Errorf("push to shop-cart: got %v, want allowed", err)
	}
	for _, p := range []string{"web", "shop", "xshop-api"} {
		if err := baleen.Require(t.Context(), w.policy, bob, p, baleen.RoleWrite); !errors.Is(err, baleen.ErrUnauthorized) {
			t.Errorf("push to %s: got %v, want ErrUnauthorized", p, err)
		}
	}
}

// replaceKeepingStat writes content (of the same length as the file's) to name and puts its modification
// time back, as deploy tools and Nix do.
func replaceKeepingStat(t *testing.T, name, content string) {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(content)) != fi.Size() {
		t.Fatalf("new content is %d bytes, want %d", len(content), fi.Size())
	}
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(name, time.Time{}, fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(name)
	if err != nil || after.Size() != fi.Size() || !after.ModTime().Equal(fi.ModTime()) {
		t.Fatalf("size and mtime not preserved: %v", err)
	}
}

// TestRemovedKeyRefusedDespiteSameSizeAndMtime stops a revoked key from staying valid when its file is
// rewritten with the same size and modification time: the content decides, and an identity taken before
// (a connection already open) holds no role from then on.
func TestRemovedKeyRefusedDespiteSameSizeAndMtime(t *testing.T) {
	for _, tc := range []struct {
		name    string
		key     func(w *world) gossh.PublicKey
		file    func(w *world) string
		project string
	}{
		{"authorized keys file", func(w *world) gossh.PublicKey { return w.root }, func(w *world) string { return w.rootFile }, "web"},
		{"user's key file", func(w *world) gossh.PublicKey { return w.bob }, func(w *world) string { return w.bobFile }, "shop-api"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			id := w.id(t, tc.key(w))
			if got := w.policy.Role(t.Context(), id, tc.project); got < baleen.RoleWrite {
				t.Fatalf("before: got %s, want write or more", got)
			}
			_, other := newKey(t, strings.Repeat("x", 0))
			old, err := os.ReadFile(tc.file(w))
			if err != nil {
				t.Fatal(err)
			}
			// Same key type, so the same length: pad the comment to the old line's length.
			line := other + strings.Repeat("z", len(old)-len(other)-1) + "\n"
			replaceKeepingStat(t, tc.file(w), line)
			if _, ok := w.policy.Lookup(tc.key(w)); ok {
				t.Error("removed key still authenticates")
			}
			if got := w.policy.Role(t.Context(), id, tc.project); got != baleen.RoleNone {
				t.Errorf("open connection of the removed key: got %s, want none", got)
			}
		})
	}
}

func TestKeyFileUnreadableRefusesItsKeys(t *testing.T) {
	w := newWorld(t)
	bob := w.id(t, w.bob)
	if err := os.Remove(w.bobFile); err != nil {
		t.Fatal(err)
	}
	if got := w.policy.Role(t.Context(), bob, "shop-api"); got != baleen.RoleNone {
		t.Errorf("got %s, want none", got)
	}
	if _, ok := w.policy.Lookup(w.alice); !ok {
		t.Error("alice refused because bob's file went away")
	}
}

// TestProjectCannotNameSecretOutsideItsScope stops a project from reading a server secret meant for other
// projects by naming it in its baleen.yml.
func TestProjectCannotNameSecretOutsideItsScope(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		project string
		names   []string
		refused []string
	}{
		{"shop-api", []string{"DB_PASSWORD", "API_TOKEN"}, nil},
		{"shop-web", []string{"DB_PASSWORD"}, nil},
		{"web", []string{"API_TOKEN"}, nil},
		{"web", []string{"DB_PASSWORD", "API_TOKEN"}, []string{"DB_PASSWORD"}},
		{"shop-web", []string{"API_TOKEN", "NOT_CONFIGURED"}, []string{"API_TOKEN", "NOT_CONFIGURED"}},
	} {
		t.Run(tc.project+"/"+strings.Join(tc.names, ","), func(t *testing.T) {
			err := w.policy.CheckCredentials(tc.project, tc.names)
			if len(tc.refused) == 0 {
				if err != nil {
					t.Errorf("got %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, baleen.ErrUnauthorized) {
				t.Fatalf("got %v, want ErrUnauthorized", err)
			}
			for _, n := range tc.refused {
				if !strings.Contains(err.Error(), "credential "+n+" is not available to project "+tc.project) {
					t.Errorf("message %q does not name %s", err, n)
				}
			}
		})
	}
}

func TestWhoami(t *testing.T) {
	w := newWorld(t)
	projects := []string{"shop-api", "shop-web", "web"}
	for _, tc := range []struct {
		name    string
		key     gossh.PublicKey
		want    []string
		wantNot []string
	}{
		{"bob", w.bob, []string{"user bob, key SHA256:", "write on shop-*", "shop-api", "shop-web"}, []string{"\n  web ", "alice"}},
		{"carol", w.carol, []string{"user carol", "read on shop-api", "shop-api"}, []string{"shop-web", "write"}},
		{"alice", w.alice, []string{"alice@example.com", "admin on *", "\n  web "}, nil},
		{"root", w.root, []string{"from the authorized keys file", "admin on every project"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := w.policy.Whoami(t.Context(), w.id(t, tc.key), projects)
			for _, s := range tc.want {
				if !strings.Contains(got, s) {
					t.Errorf("got %q, want it to contain %q", got, s)
				}
			}
			for _, s := range tc.wantNot {
				if strings.Contains(got, s) {
					t.Errorf("got %q, want no %q", got, s)
				}
			}
		})
	}
	stale := baleen.Identity{User: "dave", Fingerprint: "SHA256:gone"}
	if got := w.policy.Whoami(t.Context(), stale, projects); !strings.Contains(got, "no longer authorized") {
		t.Errorf("stale identity: got %q", got)
	}
}

func TestParseErrors(t *testing.T) {
	_, line := newKey(t, "k")
	dir := t.TempDir()
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown user in a rule", "users:\n  a: {keys: [\"" + line + "\"]}\naccess:\n  - {projects: [x], users: [b], role: read}\n", `cfg.yml:4: access[0].users: "b" is not a user`},
		{"bad role", "users:\n  a: {keys: [\"" + line + "\"]}\naccess:\n  - projects: [x]\n    users: [a]\n    role: owner\n", `cfg.yml:6: access[0].role: role "owner": want read, write, deploy or admin`},
		{"bad glob", "users:\n  a: {keys: [\"" + line + "\"]}\naccess:\n  - {projects: [\"shop-[\"], users: [a], role: read}\n", `cfg.yml:4: access[0].projects: pattern "shop-["`},
		{"no role", "users:\n  a: {keys: [\"" + line + "\"]}\naccess:\n  - {projects: [x], users: [a]}\n", "cfg.yml:4: access[0]: give role"},
		{"lone string", "users:\n  a: {keys: [\"" + line + "\"]}\naccess:\n  - {projects: x, users: [a], role: read}\n", "cfg.yml:4: access[0].projects: want a list of strings"},
		{"key options", "users:\n  a:\n    keys: [\"restrict " + line + "\"]\n", `cfg.yml:3: users.a.keys[0]: key options "restrict" are not supported`},
		{"not a key", "users:\n  a:\n    keys: [\"ssh-ed25519 nope\"]\n", "cfg.yml:3: users.a.keys[0]: not an SSH public key"},
		{"same key twice", "users:\n  a: {keys: [\"" + line + "\"]}\n  b: {keys: [\"" + line + "\"]}\n", "cfg.yml:3: users.b.keys[0]: key SHA256:"},
		{"no keys", "users:\n  a: {email: a@example.com}\n", "cfg.yml:2: users.a: give keys or key_files"},
		{"missing key file", "users:\n  a: {key_files: [" + filepath.Join(dir, "nope.pub") + "]}\n", "cfg.yml:2: users.a.key_files[0]: stat"},
		{"unknown user key", "users:\n  a: {keys: [\"" + line + "\"], mail: x}\n", `cfg.yml:2: users.a: unknown key "mail"`},
		{"bad user name", "users:\n  \"a b\": {keys: [\"" + line + "\"]}\n", `cfg.yml:2: users: user name "a b"`},
		{"credential without projects", "credentials:\n  DB: {file: /x}\n", "cfg.yml:2: credentials.DB: give projects"},
		{"not yaml", "users: [\n", "cfg.yml: yaml:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("cfg.yml", []byte(tc.yaml))
			if !errors.Is(err, baleen.ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestParseEmptyAndForeignKeys(t *testing.T) {
	for _, in := range []string{"", "listen: \":2222\"\ntargets: {}\n"} {
		c, err := Parse("cfg.yml", []byte(in))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if len(c.Users) != 0 || len(c.Rules) != 0 {
			t.Errorf("%q: got %+v, want no users nor rules", in, c)
		}
	}
}
