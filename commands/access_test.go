package commands

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/access"
	"github.com/baleen-ci/baleen/web"
)

// newUserKey returns an authorized_keys line and the fingerprint of a new key.
func newUserKey(t *testing.T) (string, string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k))), gossh.FingerprintSHA256(k)
}

// policyHandler is newHandler with a policy of one user, reader, who may only read api.
func policyHandler(t *testing.T) (*Handler, baleen.Identity) {
	t.Helper()
	h := newHandler(t)
	id := withPolicy(t, h, "reader", "{projects: [api], users: [reader], role: read}")
	h.Tokens, h.Mirrors = h.Projects.(baleen.TokenStore), noMirrors{}
	return h, id
}

// withPolicy gives h a policy of one user with a new key and one access rule, and returns the user.
func withPolicy(t *testing.T, h *Handler, user, rule string) baleen.Identity {
	t.Helper()
	line, fp := newUserKey(t)
	cfg := filepath.Join(t.TempDir(), "baleen.yml")
	yml := "users:\n  " + user + ": {keys: [\"" + line + "\"]}\naccess:\n  - " + rule + "\n"
	if err := os.WriteFile(cfg, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	ac, err := access.ParseFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := access.New(access.Options{Config: ac})
	h.Authz, h.Whoami = p, p.Whoami
	return baleen.Identity{User: user, Fingerprint: fp}
}

func callAs(h *Handler, id baleen.Identity, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := h.Run(context.Background(), &baleen.Call{Args: args, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut,
		Identity: id})
	return code, out.String(), errOut.String()
}

// TestRolesAreEnforced stops a reader from writing, deploying or administering, with the role named.
func TestRolesAreEnforced(t *testing.T) {
	h, reader := policyHandler(t)
	tests := []struct {
		args     []string
		wantCode int
		wantOut  string // in stdout on success, in stderr on refusal
	}{
		{[]string{"status", "api"}, ExitOK, "build #1"},
		{[]string{"projects"}, ExitOK, "api"},
		{[]string{"status", "empty"}, ExitFailed, "needs the read role"},
		{[]string{"rebuild", "api"}, ExitFailed, "needs the write role"},
		{[]string{"cancel", "api"}, ExitFailed, "needs the write role"},
		{[]string{"deploy", "api"}, ExitFailed, "needs the deploy role"},
		{[]string{"rollback", "api"}, ExitFailed, "needs the deploy role"},
		{[]string{"deliveries"}, ExitFailed, "needs the admin role"},
		{[]string{"redeliver", "3"}, ExitFailed, "needs the admin role"},
		{[]string{"token", "list", "--all"}, ExitFailed, "needs the admin role"},
		{[]string{"tests", "empty"}, ExitFailed, "needs the read role"},
		{[]string{"whoami"}, ExitOK, "user reader"},
		{[]string{"mirror", "list"}, ExitFailed, "needs the admin role"},
		{[]string{"mirror", "remove", "api"}, ExitFailed, "needs the admin role"},
		{[]string{"sync", "api"}, ExitFailed, "needs the admin role"},
	}
	for _, tc := range tests {
		code, out, errOut := callAs(h, reader, tc.args...)
		where := out
		if tc.wantCode != ExitOK {
			where = errOut
		}
		if code != tc.wantCode || !strings.Contains(where, tc.wantOut) {
			t.Errorf("%v: exit %d, want %d with %q\nstdout: %s\nstderr: %s", tc.args, code, tc.wantCode, tc.wantOut, out, errOut)
		}
	}
	if _, out, _ := callAs(h, reader, "projects"); strings.Contains(out, "empty") {
		t.Errorf("projects lists a project the reader may not read:\n%s", out)
	}
	stranger := baleen.Identity{User: "SHA256:x", Fingerprint: "SHA256:x"}
	if code, _, errOut := callAs(h, stranger, "logs", "api"); code != ExitFailed || !strings.Contains(errOut, "read role") {
		t.Errorf("unknown key reads logs: exit %d, %s", code, errOut)
	}
}

// TestNewCommandsUsage checks the usage errors and the messages of servers without the part a command needs.
func TestNewCommandsUsage(t *testing.T) {
	h := newHandler(t)
	tests := []struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		{[]string{"token"}, ExitUsage, "usage: token"},
		{[]string{"tests"}, ExitUsage, "usage: tests"},
		{[]string{"tests", "api", "--failing", "--flaky"}, ExitUsage, "give at most one"},
		{[]string{"tests", "../x"}, ExitUsage, "tests:"},
		{[]string{"redeliver"}, ExitUsage, "usage: redeliver <id>"},
		{[]string{"deliveries", "a", "b"}, ExitUsage, "usage: deliveries"},
		{[]string{"whoami", "x"}, ExitUsage, "usage: whoami"},
		{[]string{"web-login", "x"}, ExitUsage, "usage: web-login"},
		{[]string{"engines", "x"}, ExitUsage, "usage: engines"},
		{[]string{"web-login"}, ExitFailed, "web side of this server is off"},
		{[]string{"web-logout"}, ExitFailed, "web side of this server is off"},
		{[]string{"token", "list"}, ExitFailed, "keeps no API tokens"},
		{[]string{"deliveries"}, ExitFailed, "records no deliveries"},
		{[]string{"redeliver", "1"}, ExitFailed, "sends no notifications"},
		{[]string{"mirror"}, ExitUsage, "usage: mirror"},
		{[]string{"sync"}, ExitUsage, "usage: sync"},
		{[]string{"sync", "../x"}, ExitUsage, "sync:"},
	}
	for _, tc := range tests {
		code, out, errOut := call(h, tc.args...)
		if code != tc.wantCode || !strings.Contains(errOut, tc.wantErr) {
			t.Errorf("%v: exit %d, want %d with %q\nstdout: %s\nstderr: %s", tc.args, code, tc.wantCode, tc.wantErr, out, errOut)
		}
	}
	h.Tokens = h.Projects.(baleen.TokenStore)
	for _, args := range [][]string{{"token", "create", "--expires", "soon"}, {"token", "create", "--bogus"}, {"token", "revoke"}, {"token", "frob"}} {
		if code, _, errOut := call(h, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d: %s", args, code, ExitUsage, errOut)
		}
	}
	h.Mirrors = noMirrors{}
	for _, args := range [][]string{{"mirror", "add", "x"}, {"mirror", "add", "x", "u", "--branch"}, {"mirror", "frob"}, {"mirror", "list", "x"}, {"mirror", "remove", "../x"}} {
		if code, _, errOut := call(h, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d: %s", args, code, ExitUsage, errOut)
		}
	}
	h.DockerHost = "tcp://127.0.0.1:2375"
	if code, out, _ := call(h, "engines"); code != ExitOK || out != "one engine: tcp://127.0.0.1:2375\n" {
		t.Errorf("engines without a pool: exit %d, %q", code, out)
	}
}

// TestTokenCommands makes, lists and revokes a token through the commands.
func TestTokenCommands(t *testing.T) {
	h := newHandler(t)
	h.Tokens = h.Projects.(baleen.TokenStore)
	id := baleen.Identity{User: "SHA256:me", Fingerprint: "SHA256:me"}
	code, secret, errOut := callAs(h, id, "token", "create", "--read-only", "--expires", "30d")
	if code != ExitOK || !strings.HasPrefix(secret, "bln_") {
		t.Fatalf("token create: exit %d, %q, %s", code, secret, errOut)
	}
	code, list, _ := callAs(h, id, "token", "list")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if code != ExitOK || len(lines) != 2 || !strings.Contains(lines[1], "read-only") {
		t.Fatalf("token list: exit %d\n%s", code, list)
	}
	tokenID := strings.Fields(lines[1])[0]
	if code, _, _ := callAs(h, id, "token", "revoke", tokenID); code != ExitOK {
		t.Fatalf("token revoke %s: exit %d", tokenID, code)
	}
	if _, list, _ := callAs(h, id, "token", "list"); strings.Contains(list, tokenID) {
		t.Fatalf("revoked token still listed:\n%s", list)
	}
}

// TestTokenOfAnotherIsNotRevoked stops a user who is not admin from revoking another key's token.
func TestTokenOfAnotherIsNotRevoked(t *testing.T) {
	h, reader := policyHandler(t)
	owner := baleen.Identity{User: "SHA256:owner", Fingerprint: "SHA256:owner"}
	_, tok, err := web.CreateToken(context.Background(), h.Tokens, owner, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := callAs(h, reader, "token", "revoke", tok.ID); code != ExitFailed {
		t.Fatalf("reader revoked another's token: exit %d %s", code, errOut)
	}
}

// noMirrors follows nothing: the usage errors above must be found before it is asked anything.
type noMirrors struct{}

func (noMirrors) Add(string, string, []string) error { return errors.New("asked") }
func (noMirrors) Remove(string) error                { return errors.New("asked") }
func (noMirrors) WriteList(io.Writer) error          { return errors.New("asked") }
func (noMirrors) Sync(context.Context, string) error { return errors.New("asked") }
