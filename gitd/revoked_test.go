package gitd_test

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/baleen-ci/baleen"
)

// TestRemovedKeyRefusedEveryCommand stops a revoked key from acting through a connection it opened before
// its removal, whatever the command: those with no role of their own (whoami, web-login, token create,
// engines, deploy-key...) as well as the role-checked ones and git's own. The check sits in the one path
// every ssh command takes, before the command handler or git is reached.
func TestRemovedKeyRefusedEveryCommand(t *testing.T) {
	e := newEnv(t)
	e.cmds.setFn(func(c *baleen.Call) int { return 0 })
	conn, err := e.dial(gossh.PublicKeys(e.key.signer))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	commands := []struct {
		name string
		line string // "" asks for a shell
		// handled: the command handler answers it (git's own commands go to git instead).
		handled bool
	}{
		{"whoami", "whoami", true},
		{"web-login", "web-login", true},
		{"web-logout", "web-logout", true},
		{"token create", "token create --read-only", true},
		{"token list", "token list", true},
		{"engines", "engines", true},
		{"deploy-key", "deploy-key", true},
		{"help", "help", true},
		{"projects", "projects", true},
		{"builds", "builds app", true},
		{"unknown command", "no-such-command", true},
		{"shell", "", true},
		{"git-upload-pack", "git-upload-pack 'app'", false},
		{"git-receive-pack", "git-receive-pack 'app'", false},
	}
	// While the key is listed, every command reaches its handler on this connection.
	for _, tt := range commands {
		if !tt.handled {
			continue
		}
		before := len(e.cmds.got())
		if code, stderr := runOn(t, conn, tt.line); code != 0 {
			t.Fatalf("%s before removal: exit %d, want 0\n%s", tt.name, code, stderr)
		}
		if got := len(e.cmds.got()); got != before+1 {
			t.Fatalf("%s before removal: handler calls %d, want %d", tt.name, got, before+1)
		}
	}
	other := newClientKey(t, e.dir, "id_other")
	if err := os.WriteFile(e.authorized, gossh.MarshalAuthorizedKey(other.signer.PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	handled := len(e.cmds.got())
	for _, tt := range commands {
		t.Run(tt.name, func(t *testing.T) {
			code, stderr := runOn(t, conn, tt.line)
			if code != 1 {
				t.Errorf("exit status: got %d, want 1", code)
			}
			if want := "key " + e.key.fingerprint() + " is no longer authorized"; !strings.Contains(stderr, want) {
				t.Errorf("stderr: got %q, want it to contain %q", stderr, want)
			}
			if got := len(e.cmds.got()); got != handled {
				t.Errorf("handler calls after removal: got %d, want %d", got-handled, 0)
			}
		})
	}
}

// runOn runs line (a shell when empty) in a new session of conn and returns its exit status and stderr.
func runOn(t *testing.T, conn *gossh.Client, line string) (int, string) {
	t.Helper()
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	defer sess.Close()
	var stderr bytes.Buffer
	sess.Stderr = &stderr
	if line == "" {
		if err := sess.Shell(); err != nil {
			t.Fatalf("shell: %v", err)
		}
		err = sess.Wait()
	} else {
		err = sess.Run(line)
	}
	var exit *gossh.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &exit):
		return exit.ExitStatus(), stderr.String()
	}
	t.Fatalf("%q: %v", line, err)
	return 0, ""
}
