package baleen

import (
	"errors"
	"net/url"
	"strings"
)

// The sentinel errors, checked with errors.Is. Adapters translate their drivers' errors into these and keep
// the cause wrapped.
var (
	// ErrNotFound: the project, build, image or file asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: the thing to create exists already.
	ErrExists = errors.New("already exists")
	// ErrInvalid: the input (a baleen.yml, a name, a command line) is malformed.
	ErrInvalid = errors.New("invalid")
	// ErrUnauthorized: the caller is not allowed to do this.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrConflict: the state changed under the caller (a ref moved, a build is already running).
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: infrastructure the work needs (the Docker engine, a registry) cannot be reached.
	ErrUnavailable = errors.New("unavailable")
)

// RedactURL returns src without its user info, for messages, logs and records that name a repository or
// registry URL: a token may stand in the user name as well as in the password. A URL that does not parse
// is not shown at all. Paths and scp-like "user@host:path" forms, which carry no secret, stay as they are.
func RedactURL(src string) string {
	if !strings.Contains(src, "://") {
		return src
	}
	u, err := url.Parse(src)
	if err != nil {
		return "(a URL that does not parse)"
	}
	if u.User != nil {
		u.User = nil
		return u.String()
	}
	return src
}
