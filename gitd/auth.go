package gitd

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	gossh "golang.org/x/crypto/ssh"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/access"
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

// KeyLookup turns a key a client proved it holds into the identity it stands for, false when the key may
// not log in. It reads its configuration afresh, so a removed key is refused at the next connection.
// access.Policy implements it; it is safe for concurrent use.
type KeyLookup interface {
	Lookup(key gossh.PublicKey) (baleen.Identity, bool)
}

// authorizedKeys is how the Server authenticates: with lookup when one is given, and otherwise with the
// plain authorized_keys file at path, whose every key is admin (access.Policy reads it again whenever its
// content changes, and refuses lines with options). It is safe for concurrent use.
type authorizedKeys struct {
	path   string
	log    *slog.Logger
	lookup KeyLookup

	once  sync.Once
	plain KeyLookup
}

func (a *authorizedKeys) keys() KeyLookup {
	if a.lookup != nil {
		return a.lookup
	}
	a.once.Do(func() { a.plain = access.New(access.Options{AuthorizedKeys: a.path, Logger: a.log}) })
	return a.plain
}

// authorized reports whether key may log in. A client may offer keys it does not hold: this only answers
// the offer; the identity comes from permissions, for the key whose signature checked out.
func (a *authorizedKeys) authorized(key gossh.PublicKey) bool {
	_, ok := a.keys().Lookup(key)
	return ok
}

// permissions returns the Permissions of a connection whose client proved it holds key: they carry its
// identity, which connIdentity reads back. It is for VerifiedPublicKeyCallback.
func (a *authorizedKeys) permissions(key gossh.PublicKey) (*gossh.Permissions, error) {
	id, ok := a.keys().Lookup(key)
	if !ok {
		return nil, errors.New("key not authorized")
	}
	ext := map[string]string{extFingerprint: id.Fingerprint, extUser: id.User, extKey: string(key.Marshal())}
	if id.Email != "" {
		ext[extEmail] = id.Email
	}
	return &gossh.Permissions{Extensions: ext}, nil
}

// extUser and extEmail carry, beside extFingerprint, the rest of the identity of a proven key; extKey
// carries the key itself (wire format), to look it up again at each command (stillAuthorized).
const (
	extUser  = "baleen-user"
	extEmail = "baleen-email"
	extKey   = "baleen-key"
)

// connIdentity returns the identity of the key the client of conn proved it holds, false when it proved
// none. The entry points ask a baleen.Authorizer with it on every operation, so that a key removed since
// the connection opened can do nothing more.
func connIdentity(conn *gossh.ServerConn) (baleen.Identity, bool) {
	fp := verifiedFingerprint(conn)
	if fp == "" {
		return baleen.Identity{}, false
	}
	ext := conn.Permissions.Extensions
	user := ext[extUser]
	if user == "" {
		user = fp
	}
	return baleen.Identity{User: user, Fingerprint: fp, Email: ext[extEmail]}, true
}

// identityKey keys the identity in a session's context.
type identityKey struct{}

// WithIdentity returns ctx carrying id, the identity of the client a session serves.
func WithIdentity(ctx context.Context, id baleen.Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity WithIdentity put in ctx, false when there is none.
func IdentityFrom(ctx context.Context) (baleen.Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(baleen.Identity)
	return id, ok
}

// verifiedFingerprint returns the fingerprint of the key the client of conn proved it holds, or "".
func verifiedFingerprint(conn *gossh.ServerConn) string {
	if conn == nil || conn.Permissions == nil {
		return ""
	}
	return conn.Permissions.Extensions[extFingerprint]
}
