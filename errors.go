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

// RedactText returns msg (a message from a tool that was given src, such as git's error) without the
// credentials in src's user part: the URL itself becomes RedactURL(src), and the password and, for an
// http(s) URL, the user name (a token may stand there), of any length, become "xxxxx" wherever they stand
// as whole words. The user name of an ssh:// URL is a login name, not a secret, and is left.
func RedactText(msg, src string) string {
	u, err := url.Parse(src)
	if err != nil || u.User == nil || !strings.Contains(src, "://") {
		return msg
	}
	msg = strings.ReplaceAll(msg, src, RedactURL(src))
	var secrets []string
	if p, ok := u.User.Password(); ok && p != "" {
		secrets = append(secrets, p)
	}
	if n := u.User.Username(); n != "" && (u.Scheme == "http" || u.Scheme == "https") {
		secrets = append(secrets, n)
	}
	for _, s := range secrets {
		msg = replaceWord(msg, s, "xxxxx")
	}
	return msg
}

// replaceWord replaces old in s where it is not part of a longer run of letters and digits.
func replaceWord(s, old, repl string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, old)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(old)
		whole := (i == 0 || !isWordByte(s[i-1])) && (end == len(s) || !isWordByte(s[end]))
		b.WriteString(s[:i])
		if whole {
			b.WriteString(repl)
		} else {
			b.WriteString(old)
		}
		s = s[end:]
	}
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
