package baleen

import (
	"errors"
	"net/url"
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

// RedactURL returns src with the password of its user info, if any, replaced by "xxxxx" (url.Redacted),
// for messages and logs that name a repository or registry URL.
func RedactURL(src string) string {
	u, err := url.Parse(src)
	if err != nil || u.User == nil {
		return src
	}
	return u.Redacted()
}
