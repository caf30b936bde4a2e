package deploy

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/baleen-ci/baleen"
)

// Target is a group of hosts that releases are deployed to: one entry of `targets:` in the server config.
type Target struct {
	// Name is the target's key in the config ("production").
	Name string
	// User is the deploy user: root, or a user that may run "sudo -n" (Flatcar's core); see docs/deploy.md.
	User string
	// Identity is the path of the private key Baleen logs in with.
	Identity string
	// KnownHosts is the path of the known_hosts file the hosts' keys are checked against. It is required:
	// an unknown or changed host key is refused.
	KnownHosts string
	// Hosts are "host:port" addresses ("host" alone means port 22), or LocalHost, in rollout order; each
	// at most once.
	Hosts []string
}

// Options are a Deployer's dependencies and settings.
type Options struct {
	// Targets are the server config's targets by name.
	Targets map[string]Target
	// Images ships images that were not pushed to a registry: they are saved on the build engine and
	// loaded on each host over SSH.
	Images baleen.Images
	// Secret returns a credential's value by name; the values go only into the hosts' root-only
	// environment files.
	Secret func(name string) (string, bool)
	// Logger receives the deployer's own log; nil discards it. Rollout progress goes to the writer given
	// to Deploy instead.
	Logger *slog.Logger
	// DialTimeout bounds reaching a host and the SSH handshake; DefaultDialTimeout when zero.
	DialTimeout time.Duration
	// Grace is how long a started unit must stay active before its health check; DefaultGrace when zero.
	Grace time.Duration
	// JournalLines is how many journal lines of a failed unit a failure message carries;
	// DefaultJournalLines when zero.
	JournalLines int
	// KeepImages is how many releases' images each host keeps per unit after a rollout (the running one
	// among them); DefaultKeepImages when zero, and none are removed when negative.
	KeepImages int
}

// Defaults for the Options left unset.
const (
	DefaultDialTimeout  = 10 * time.Second
	DefaultGrace        = 10 * time.Second
	DefaultJournalLines = 20
)

// Deployer rolls releases out to the hosts of the configured targets over SSH and systemd's D-Bus API. It
// implements baleen.Deployer; every method is safe for concurrent use.
type Deployer struct {
	opts Options
	log  *slog.Logger
}

var _ baleen.Deployer = (*Deployer)(nil)

// New returns a Deployer for opts.
func New(opts Options) *Deployer {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	if opts.JournalLines <= 0 {
		opts.JournalLines = DefaultJournalLines
	}
	return &Deployer{opts: opts, log: opts.Logger}
}

// target looks up a target by name.
func (d *Deployer) target(name string) (Target, error) {
	t, ok := d.opts.Targets[name]
	if !ok {
		return Target{}, fmt.Errorf("deploy target %q is not in the server config: %w", name, baleen.ErrNotFound)
	}
	if t.Name == "" {
		t.Name = name
	}
	if len(t.Hosts) == 0 {
		return Target{}, fmt.Errorf("deploy target %s has no hosts: %w", name, baleen.ErrInvalid)
	}
	hosts := make([]string, len(t.Hosts))
	for i, h := range t.Hosts {
		hosts[i] = hostAddr(h)
		// Two switches of one host would run over each other there.
		if slices.Contains(hosts[:i], hosts[i]) {
			return Target{}, fmt.Errorf("deploy target %s lists host %s twice: %w", name, hosts[i], baleen.ErrInvalid)
		}
	}
	t.Hosts = hosts
	return t, nil
}

// hostAddr is a host of a target as "host:port": port 22 when it names none, and LocalHost as it is.
func hostAddr(h string) string {
	if h == LocalHost {
		return h
	}
	if _, _, err := net.SplitHostPort(h); err == nil {
		return h
	}
	return net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), "22")
}

// printf writes one line of progress to w; a writer that fails does not stop a rollout.
func printf(w io.Writer, format string, args ...any) {
	_, _ = fmt.Fprintf(w, format+"\n", args...)
}
