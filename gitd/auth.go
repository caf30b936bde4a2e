package gitd

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// extFingerprint is the Permissions extension that carries the fingerprint of the key a client proved it
// holds. Only VerifiedPublicKeyCallback sets it, after the client's signature checked out.
const extFingerprint = "baleen-key-fingerprint"

// loadOrCreateHostKey reads the ed25519 host key at path, or creates one there (mode 0600, OpenSSH PEM) when
// the file does not exist. A key file that others may read is refused, as OpenSSH refuses it.
func loadOrCreateHostKey(path string) (gossh.Signer, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createHostKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read host key: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("host key %s is open to others (mode %04o); run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	signer, err := gossh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("host key %s: %w", path, err)
	}
	return signer, nil
}

func createHostKey(path string) (gossh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate host key: %w", err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "baleen host key")
	if err != nil {
		return nil, fmt.Errorf("encode host key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("host key dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create host key: %w", err)
	}
	_, werr := f.Write(pem.EncodeToMemory(block))
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		return nil, errors.Join(fmt.Errorf("write host key %s: %w", path, err), os.Remove(path))
	}
	return gossh.NewSignerFromKey(priv)
}

// authorizedKeys is an OpenSSH authorized_keys file, read again whenever its size or modification time
// changes. Options on a line (command=, restrict...) are ignored: a listed key may push and run every
// command. It is safe for concurrent use.
type authorizedKeys struct {
	path string
	log  *slog.Logger

	mu    sync.Mutex
	size  int64
	mtime time.Time
	read  bool
	keys  map[string]bool // by the key's wire encoding
}

// authorized reports whether key is listed, reading the file again first if it changed. A file that cannot be
// read authorizes no one.
func (a *authorizedKeys) authorized(key gossh.PublicKey) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refresh()
	return a.keys[string(key.Marshal())]
}

func (a *authorizedKeys) refresh() {
	fi, err := os.Stat(a.path)
	if err != nil {
		if a.read || a.keys == nil {
			a.log.Error("authorized keys unreadable; refusing every key", "path", a.path, "err", err)
		}
		a.keys, a.read = map[string]bool{}, false
		return
	}
	if a.read && fi.Size() == a.size && fi.ModTime().Equal(a.mtime) {
		return
	}
	data, err := os.ReadFile(a.path)
	if err != nil {
		a.log.Error("authorized keys unreadable; refusing every key", "path", a.path, "err", err)
		a.keys, a.read = map[string]bool{}, false
		return
	}
	a.keys = parseAuthorizedKeys(data, func(line int, err error) {
		a.log.Warn("authorized keys: line skipped", "path", a.path, "line", line, "err", err)
	})
	a.size, a.mtime, a.read = fi.Size(), fi.ModTime(), true
	a.log.Info("authorized keys loaded", "path", a.path, "keys", len(a.keys))
}

// parseAuthorizedKeys reads the keys of an authorized_keys file; bad lines are reported to skip and left out.
func parseAuthorizedKeys(data []byte, skip func(line int, err error)) map[string]bool {
	keys := map[string]bool{}
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		key, _, options, _, err := gossh.ParseAuthorizedKey(line)
		if err != nil {
			skip(i+1, err)
			continue
		}
		if len(options) > 0 {
			// Baleen honours no options (from=, command=, restrict...): a key that carries some is left out
			// rather than let in without the limits its line asks for.
			skip(i+1, fmt.Errorf("key options %q are not supported; remove them to authorize this key", strings.Join(options, ",")))
			continue
		}
		keys[string(key.Marshal())] = true
	}
	return keys
}

// verifiedFingerprint returns the fingerprint of the key the client of conn proved it holds, or "".
func verifiedFingerprint(conn *gossh.ServerConn) string {
	if conn == nil || conn.Permissions == nil {
		return ""
	}
	return conn.Permissions.Extensions[extFingerprint]
}
