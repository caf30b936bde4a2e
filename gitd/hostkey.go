package gitd

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	gossh "golang.org/x/crypto/ssh"
)

// loadOrCreateRSAHostKey reads the RSA host key at path, or creates a 3072-bit one there (mode 0600,
// OpenSSH PEM) when the file does not exist. Clients may verify it with rsa-sha2-256 or rsa-sha2-512, and
// with ssh-rsa (SHA-1) too: the JSch releases still bundled by Jenkins plugins and Eclipse know no other.
func loadOrCreateRSAHostKey(path string) (gossh.Signer, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		key, err := rsa.GenerateKey(rand.Reader, 3072)
		if err != nil {
			return nil, fmt.Errorf("generate RSA host key: %w", err)
		}
		block, err := gossh.MarshalPrivateKey(key, "baleen host key")
		if err != nil {
			return nil, fmt.Errorf("encode RSA host key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("host key dir: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create RSA host key: %w", err)
		}
		_, werr := f.Write(pem.EncodeToMemory(block))
		if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
			return nil, errors.Join(fmt.Errorf("write RSA host key %s: %w", path, err), os.Remove(path))
		}
	}
	// Reading it back applies the same checks as to the ed25519 key (mode 0600, a key that parses).
	return loadOrCreateHostKey(path)
}
