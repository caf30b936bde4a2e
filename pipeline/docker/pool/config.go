package pool

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/baleen-ci/baleen"
)

// Config is the `engines:` section of the server config: each engine by name.
//
//	engines:
//	  local: {host: "unix:///var/run/docker.sock", slots: 2}
//	  build-2: {host: "ssh://builder@10.0.0.21", slots: 4, labels: [amd64, big]}
//	  build-3: {host: "tcp://10.0.0.22:2376", slots: 4, tls: {ca: ca.pem, cert: cert.pem, key: key.pem}}
type Config map[string]EngineConfig

// EngineConfig is one engine of the pool.
type EngineConfig struct {
	// Host is the engine's address: unix:///path, tcp://host:port (with TLS unless the host is a loopback
	// address) or ssh://user@host[:port] (through the ssh client and `docker system dial-stdio` there).
	Host string `yaml:"host" json:"host"`
	// Slots is how many builds the engine runs at once; 1 when 0.
	Slots int `yaml:"slots" json:"slots"`
	// Labels are what a project's runs_on may ask for.
	Labels []string `yaml:"labels" json:"labels,omitempty"`
	// TLS holds the client certificate files for a tcp:// engine.
	TLS *TLSFiles `yaml:"tls" json:"tls,omitempty"`
	// SSH, for an ssh:// engine, names the key and known_hosts files the ssh client uses instead of the
	// server user's own.
	SSH *SSHFiles `yaml:"ssh" json:"ssh,omitempty"`
}

// SSHFiles are the files an ssh:// engine is reached with: the private key to log in with and the
// known_hosts file that holds the engine host's key (an unknown or changed key is refused). Either may be
// left out for the ssh client's default.
type SSHFiles struct {
	Identity   string `yaml:"identity" json:"identity,omitempty"`
	KnownHosts string `yaml:"known_hosts" json:"known_hosts,omitempty"`
}

// TLSFiles are the files of a TLS client configuration, as DOCKER_CERT_PATH holds them.
type TLSFiles struct {
	CA   string `yaml:"ca" json:"ca"`
	Cert string `yaml:"cert" json:"cert"`
	Key  string `yaml:"key" json:"key"`
}

// namePattern is what an engine's name and its labels may be.
var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// Validate checks every engine of the config, in name order, and says which one and what is wrong.
func (c Config) Validate() error {
	if len(c) == 0 {
		return fmt.Errorf("engines: no engine listed (leave the section out to use DOCKER_HOST): %w", baleen.ErrInvalid)
	}
	for _, name := range c.names() {
		if err := c[name].validate(name); err != nil {
			return err
		}
	}
	return nil
}

// names lists the engines' names, sorted.
func (c Config) names() []string {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// validate checks one engine's entry.
func (ec EngineConfig) validate(name string) error {
	where := "engines." + name
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s: %w", where, fmt.Sprintf(format, args...), baleen.ErrInvalid)
	}
	if !namePattern.MatchString(name) {
		return bad("not a valid engine name (lowercase letters, digits, '.', '_' and '-')")
	}
	if ec.Slots < 0 {
		return bad("slots: %d is negative", ec.Slots)
	}
	for _, l := range ec.Labels {
		if !namePattern.MatchString(l) {
			return bad("labels: %q is not a valid label (lowercase letters, digits, '.', '_' and '-')", l)
		}
	}
	if ec.SSH != nil && !strings.HasPrefix(ec.Host, "ssh://") {
		return bad("ssh: only for ssh:// engines")
	}
	u, err := url.Parse(ec.Host)
	if err != nil || ec.Host == "" {
		return bad("host: %q is not an address such as unix:///var/run/docker.sock, tcp://host:2376 or ssh://user@host", ec.Host)
	}
	switch u.Scheme {
	case "unix":
		if u.Path == "" {
			return bad("host: %q names no socket", ec.Host)
		}
		if ec.TLS != nil {
			return bad("tls: only for tcp:// engines")
		}
	case "tcp":
		if u.Host == "" {
			return bad("host: %q names no host", ec.Host)
		}
		if ec.TLS == nil && !isLoopback(u.Hostname()) {
			return bad("host: %q is plain TCP to another machine: give tls: {ca, cert, key}, or use ssh://", ec.Host)
		}
		if ec.TLS != nil && (ec.TLS.CA == "" || ec.TLS.Cert == "" || ec.TLS.Key == "") {
			return bad("tls: ca, cert and key are all required")
		}
	case "ssh":
		if u.Host == "" || strings.HasPrefix(u.Host, "-") || strings.HasPrefix(u.User.Username(), "-") {
			return bad("host: %q is not ssh://user@host[:port]", ec.Host)
		}
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return bad("host: %q: an ssh:// address takes no path or query", ec.Host)
		}
		if ec.TLS != nil {
			return bad("tls: only for tcp:// engines")
		}
	default:
		return bad("host: scheme %q is not unix, tcp or ssh", u.Scheme)
	}
	return nil
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckLabels says whether some engine of the config has every one of labels, as a project's runs_on asks;
// the error names the labels no engine offers and wraps baleen.ErrInvalid.
func (c Config) CheckLabels(labels []string) error {
	if len(labels) == 0 {
		return nil
	}
	for _, name := range c.names() {
		if hasAll(c[name].Labels, labels) {
			return nil
		}
	}
	var offered []string
	for _, name := range c.names() {
		offered = append(offered, fmt.Sprintf("%s %v", name, c[name].Labels))
	}
	return fmt.Errorf("runs_on %v: no engine has all of these labels (engines: %s): %w",
		labels, strings.Join(offered, ", "), baleen.ErrInvalid)
}

// hasAll reports whether have holds every one of want.
func hasAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
