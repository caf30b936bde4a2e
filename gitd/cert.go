package gitd

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// A signed push (git push --signed) carries a certificate that receive-pack checks: its nonce against
// receive.certNonceSeed, its signature with gpg, or for an SSH signature with ssh-keygen against
// gpg.ssh.allowedSignersFile. The server gives it an empty allowed-signers file, so an SSH signature is
// checked for what it is (status G when it verifies) without a list of trusted signers, and the key that
// made it is known. git hands the verdict to the pre-receive hook only, not to proc-receive: Baleen's
// pre-receive script writes it to a file of the push's own (BALEEN_CERT_FILE), which proc-receive reads.
const envCertFile = "BALEEN_CERT_FILE"

// preReceiveScript keeps git's verdict on a push certificate for the server.
const preReceiveScript = `#!/bin/sh
# Written by baleen serve at each start: keeps git's verdict on a signed push's certificate for the server.
cat >/dev/null
if [ -n "$GIT_PUSH_CERT" ] && [ -n "$` + envCertFile + `" ]; then
	printf '%s %s %s\n' "$GIT_PUSH_CERT_STATUS" "$GIT_PUSH_CERT_NONCE_STATUS" "$GIT_PUSH_CERT_KEY" >"$` + envCertFile + `"
fi
exit 0
`

// PushCertificate is git's verdict on the certificate of a signed push.
type PushCertificate struct {
	// Status is git's verdict on the signature: G good, B bad, U good from an untrusted key, X or Y
	// expired, R revoked key, E cannot be checked, N no signature.
	Status string
	// Nonce is git's verdict on the nonce: OK, SLOP (late but in time), BAD, MISSING or UNSOLICITED.
	Nonce string
	// Key is the key that signed it: "SHA256:..." for an SSH key, the key id for an OpenPGP one.
	Key string
}

// Good reports whether the signature verifies and the nonce is the one this server handed out.
func (c PushCertificate) Good() bool {
	return c.Status == "G" && (c.Nonce == "OK" || c.Nonce == "SLOP")
}

// setupCerts writes the pre-receive script into hooksDir and the empty allowed-signers file and the
// certificates directory into dir, and returns the allowed-signers file and the certificates directory.
func setupCerts(dir, hooksDir string) (allowedSigners, certDir string, err error) {
	tmp := filepath.Join(hooksDir, ".pre-receive.tmp")
	if err := os.WriteFile(tmp, []byte(preReceiveScript), 0o755); err != nil {
		return "", "", fmt.Errorf("write hook: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(hooksDir, "pre-receive")); err != nil {
		return "", "", fmt.Errorf("write hook: %w", err)
	}
	allowedSigners = filepath.Join(dir, "allowed_signers")
	if err := os.WriteFile(allowedSigners, nil, 0o644); err != nil {
		return "", "", fmt.Errorf("allowed signers: %w", err)
	}
	certDir = filepath.Join(dir, "certs")
	if err := os.RemoveAll(certDir); err != nil {
		return "", "", fmt.Errorf("certificates dir: %w", err)
	}
	if err := os.Mkdir(certDir, 0o700); err != nil {
		return "", "", fmt.Errorf("certificates dir: %w", err)
	}
	return allowedSigners, certDir, nil
}

// readCert reads and removes the verdict the pre-receive script kept in path; nil when the push was not
// signed.
func readCert(path string) (*PushCertificate, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("push certificate: %w", err)
	}
	_ = os.Remove(path)
	f := strings.Fields(string(b))
	for len(f) < 3 {
		f = append(f, "")
	}
	return &PushCertificate{Status: f[0], Nonce: f[1], Key: f[2]}, nil
}

// reportCert tells the pusher and the server log what git found of the push's certificate.
func reportCert(c *PushCertificate, out io.Writer, log *slog.Logger) {
	if c == nil {
		return
	}
	if c.Good() {
		fmt.Fprintf(out, "push certificate signed by %s\n", c.Key)
	} else {
		fmt.Fprintf(out, "push certificate not verified (signature %s, nonce %s); the push goes on unsigned\n", c.Status, c.Nonce)
	}
	log.Info("push certificate", "signer", c.Key, "status", c.Status, "nonce", c.Nonce)
}
