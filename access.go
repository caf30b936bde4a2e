package baleen

import (
	"context"
	"fmt"
	"strings"
)

// Role is what a user may do with a project. Roles are ordered: each one includes those below it.
type Role int

// The roles, lowest first. RoleNone may do nothing with the project, not even see it.
const (
	RoleNone Role = iota
	// RoleRead may clone and fetch, and read logs, reports, artifacts and releases.
	RoleRead
	// RoleWrite may also push (creating the project on its first push), rebuild, and cancel its own builds.
	RoleWrite
	// RoleDeploy may also deploy and roll back.
	RoleDeploy
	// RoleAdmin may also cancel any build, and manage mirrors, tokens and the project's settings.
	RoleAdmin
)

var roleNames = [...]string{"none", "read", "write", "deploy", "admin"}

// String is the role's name as the server config spells it.
func (r Role) String() string {
	if r < 0 || int(r) >= len(roleNames) {
		return fmt.Sprintf("role(%d)", int(r))
	}
	return roleNames[r]
}

// ParseRole reads a role's name.
func ParseRole(s string) (Role, error) {
	for i, n := range roleNames {
		if n == s && i > 0 {
			return Role(i), nil
		}
	}
	return RoleNone, fmt.Errorf("role %q: want read, write, deploy or admin: %w", s, ErrInvalid)
}

// Identity is who is asking: the user a proven SSH key (or a web session or API token made from one)
// belongs to.
type Identity struct {
	// User is the user's name from the server config; for a key in the plain authorized keys file, the
	// key's fingerprint.
	User string `json:"user"`
	// Fingerprint is the SHA256 fingerprint of the key that was proven.
	Fingerprint string `json:"fingerprint"`
	Email       string `json:"email,omitempty"`
}

// Pusher is how build and release records name id: "name (SHA256:...)" for a named user, the fingerprint
// alone for a key of the plain authorized keys file. ParsePusher reads it back.
func (id Identity) Pusher() string {
	if id.User == "" || id.User == id.Fingerprint {
		return id.Fingerprint
	}
	return id.User + " (" + id.Fingerprint + ")"
}

// ParsePusher reads back the identity a record's pusher names (Identity.Pusher). Anything else, such as
// "dependency of api#3" or "web by alice", names no identity.
func ParsePusher(p string) (Identity, bool) {
	const prefix = "SHA256:"
	if strings.HasPrefix(p, prefix) && !strings.ContainsAny(p, " ()") {
		return Identity{User: p, Fingerprint: p}, true
	}
	name, rest, ok := strings.Cut(p, " (")
	fp, ok2 := strings.CutSuffix(rest, ")")
	if !ok || !ok2 || name == "" || strings.ContainsAny(name, " ()") || !strings.HasPrefix(fp, prefix) || strings.ContainsAny(fp, " ()") {
		return Identity{}, false
	}
	return Identity{User: name, Fingerprint: fp}, true
}

// Authorizer decides what an identity may do. Its methods are safe for concurrent use and read the current
// configuration, so that a key removed from it can do nothing more.
type Authorizer interface {
	// Role returns the role id holds on project (RoleNone when none).
	Role(ctx context.Context, id Identity, project string) Role
}

// Require returns nil when id holds at least need on project, and otherwise an error wrapping
// ErrUnauthorized that names the missing role, in words for the person refused.
func Require(ctx context.Context, a Authorizer, id Identity, project string, need Role) error {
	if a.Role(ctx, id, project) >= need {
		return nil
	}
	return fmt.Errorf("%s may not do this on %s: it needs the %s role: %w", id.User, project, need, ErrUnauthorized)
}
