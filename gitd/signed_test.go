package gitd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// TestSignedPush: `git push --signed` with an SSH signing key (no gpg needed) is taken; receive-pack checks
// the certificate's nonce and signature, and the Receiver and the pusher learn the key that signed it.
func TestSignedPush(t *testing.T) {
	e := newEnv(t)
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("ssh-keygen not found: %v", err)
		}
		t.Skipf("ssh-keygen not found (needed to sign and to check signatures): %v", err)
	}
	key := filepath.Join(t.TempDir(), "signing")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "signer", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pk, _, _, _, err := gossh.ParseAuthorizedKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	fingerprint := gossh.FingerprintSHA256(pk)
	work := e.work("app")
	for i, mode := range []string{"--signed", "--signed=if-asked"} {
		t.Run(mode, func(t *testing.T) {
			if i > 0 {
				e.commit(work, "README", "again "+mode+"\n")
			}
			out := e.mustGit(work, "-c", "gpg.format=ssh", "-c", "user.signingkey="+key, "push", mode, "origin", "main")
			if !strings.Contains(out, "remote: push certificate signed by "+fingerprint) {
				t.Errorf("push output lacks the signer %s:\n%s", fingerprint, out)
			}
			if strings.Contains(out, "error") {
				t.Errorf("push output holds an error:\n%s", out)
			}
			head := e.mustGit(work, "rev-parse", "HEAD")
			if got := e.refOf("app", "refs/heads/main"); got != head {
				t.Errorf("main: got %s, want %s", got, head)
			}
			pushes := e.recv.got()
			c := pushes[len(pushes)-1].Certificate
			if c == nil || !c.Good() || c.Key != fingerprint {
				t.Errorf("certificate the Receiver got: %+v, want a good one by %s", c, fingerprint)
			}
		})
	}
	unsigned := e.commit(work, "README", "unsigned\n")
	e.mustGit(work, "push", "-q", "origin", "main")
	if got := e.refOf("app", "refs/heads/main"); got != unsigned {
		t.Errorf("main after an unsigned push: got %s, want %s", got, unsigned)
	}
	if pushes := e.recv.got(); pushes[len(pushes)-1].Certificate != nil {
		t.Errorf("an unsigned push came with a certificate: %+v", pushes[len(pushes)-1].Certificate)
	}
}
