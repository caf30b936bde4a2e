package access

import (
	"bytes"
	"context"
	"crypto/sha256"
	"log/slog"
	"os"
	"path"
	"slices"
	"sync"

	gossh "golang.org/x/crypto/ssh"

	"github.com/baleen-ci/baleen"
)

// Policy is the access configuration in force: it implements baleen.Authorizer and turns proven keys into
// identities. Make one with New. Its methods are safe for concurrent use; each reads the key files again
// when their content changed (a hash of the content, not the size or time, decides), so that a removed key
// is refused from the next call on.
type Policy struct {
	cfg            Config
	authorizedKeys string
	log            *slog.Logger

	mu    sync.Mutex
	files map[string]*keyFile // by path
}

var _ baleen.Authorizer = (*Policy)(nil)

// Options are what New needs.
type Options struct {
	// Config is the access part of the server config (Parse); the zero Config has no users.
	Config Config
	// AuthorizedKeys is a plain OpenSSH authorized_keys file whose every key is admin on every project, for
	// a one-person setup; "" for none. A key listed for a user under users: is that user, even when this
	// file lists it too.
	AuthorizedKeys string
	// Logger receives what goes wrong with the key files; nothing is logged when it is nil.
	Logger *slog.Logger
}

// New returns the Policy of opts.
func New(opts Options) *Policy {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Policy{cfg: opts.Config, authorizedKeys: opts.AuthorizedKeys, log: log, files: map[string]*keyFile{}}
}

// keyFile is what was last read from one authorized_keys file.
type keyFile struct {
	sum   [sha256.Size]byte
	read  bool            // false while the file cannot be read
	keys  map[string]bool // by SHA256 fingerprint
	known bool            // the file was looked at before (so that a failure is logged once)
}

// standing is who a key is now: a named user, or an admin of the plain authorized keys file.
type standing struct {
	user  *User
	admin bool
}

// Lookup returns the identity of a key the client proved it holds, and false when the key is not
// authorized (or listed for two users, which is refused rather than guessed).
func (p *Policy) Lookup(key gossh.PublicKey) (baleen.Identity, bool) {
	fp := gossh.FingerprintSHA256(key)
	st, ok := p.resolve(fp)
	if !ok {
		return baleen.Identity{}, false
	}
	if st.admin {
		return baleen.Identity{User: fp, Fingerprint: fp}, true
	}
	return baleen.Identity{User: st.user.Name, Fingerprint: fp, Email: st.user.Email}, true
}

// resolve finds who the key with fingerprint fp is, from the current content of the files.
func (p *Policy) resolve(fp string) (standing, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var owners []*User
	for _, name := range sortedUsers(p.cfg.Users) {
		u := p.cfg.Users[name]
		if p.userHolds(&u, fp) {
			owners = append(owners, &u)
		}
	}
	switch {
	case len(owners) == 1:
		return standing{user: owners[0]}, true
	case len(owners) > 1:
		p.log.Warn("key listed for several users; refused", "key", fp, "users", []string{owners[0].Name, owners[1].Name})
		return standing{}, false
	case p.authorizedKeys != "" && p.file(p.authorizedKeys).keys[fp]:
		return standing{admin: true}, true
	}
	return standing{}, false
}

func (p *Policy) userHolds(u *User, fp string) bool {
	for _, k := range u.Keys {
		if gossh.FingerprintSHA256(k) == fp {
			return true
		}
	}
	for _, f := range u.KeyFiles {
		if p.file(f).keys[fp] {
			return true
		}
	}
	return false
}

// file returns the keys of the authorized_keys file at name, reading and parsing it again when its content
// changed. A file that cannot be read holds no keys. Callers hold p.mu.
func (p *Policy) file(name string) *keyFile {
	kf := p.files[name]
	if kf == nil {
		kf = &keyFile{}
		p.files[name] = kf
	}
	data, err := os.ReadFile(name)
	if err != nil {
		if kf.read || !kf.known {
			p.log.Error("key file unreadable; its keys are refused", "path", name, "err", err)
		}
		kf.read, kf.known, kf.keys = false, true, nil
		return kf
	}
	sum := sha256.Sum256(data)
	if kf.read && sum == kf.sum {
		return kf
	}
	kf.keys = map[string]bool{}
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		key, err := parseKeyLine(string(line))
		if err != nil {
			p.log.Warn("key file: line skipped", "path", name, "line", i+1, "err", err)
			continue
		}
		kf.keys[gossh.FingerprintSHA256(key)] = true
	}
	kf.sum, kf.read, kf.known = sum, true, true
	p.log.Info("key file loaded", "path", name, "keys", len(kf.keys))
	return kf
}

// Role returns the role id holds on project. The identity's key is looked up again first: a key that was
// removed, or now belongs to another user, holds RoleNone, even on a connection it opened before. An admin
// of the plain authorized keys file is admin everywhere; a named user gets the role of the first rule that
// names both the user (or "*") and the project (by name or glob), and RoleNone when no rule does.
func (p *Policy) Role(_ context.Context, id baleen.Identity, project string) baleen.Role {
	st, ok := p.resolve(id.Fingerprint)
	switch {
	case !ok:
		return baleen.RoleNone
	case st.admin:
		if id.User != id.Fingerprint {
			return baleen.RoleNone
		}
		return baleen.RoleAdmin
	case st.user.Name != id.User:
		return baleen.RoleNone
	}
	if r, ok := p.rule(id.User, project); ok {
		return r.Role
	}
	return baleen.RoleNone
}

// rule is the first rule that names user and project.
func (p *Policy) rule(user, project string) (Rule, bool) {
	for _, r := range p.cfg.Rules {
		if (slices.Contains(r.Users, user) || slices.Contains(r.Users, AnyUser)) && matchAny(r.Projects, project) {
			return r, true
		}
	}
	return Rule{}, false
}

// matchAny reports whether name matches one of globs.
func matchAny(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

func sortedUsers(users map[string]User) []string {
	names := make([]string, 0, len(users))
	for n := range users {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
