package forge

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/baleen-ci/baleen"
)

// Mirror is one followed repository: an entry of the `mirrors:` server config, keyed by project, or one
// added with `ssh HOST mirror add`.
type Mirror struct {
	// URL is where the repository is fetched from: any URL git can fetch, with the credentials of the
	// dependency fetches (git_credentials, known_hosts, the deploy key).
	URL string `yaml:"url" json:"url"`
	// Branches are the followed branches; the remote's default branch when empty.
	Branches []string `yaml:"branches" json:"branches,omitempty"`
	// WebhookSecretFile holds the secret the forge signs its webhooks with; without one, /hooks/<project>
	// refuses every delivery.
	WebhookSecretFile string `yaml:"webhook_secret_file" json:"webhook_secret_file,omitempty"`
	// Status reports each build's verdict back to the forge; none when nil.
	Status *StatusConfig `yaml:"status" json:"status,omitempty"`
	// Poll fetches every this long; never when 0.
	Poll time.Duration `yaml:"poll" json:"poll,omitempty"`
}

// StatusConfig says where and how commit statuses are sent.
type StatusConfig struct {
	// Kind is github, gitlab, gitea or forgejo.
	Kind      string `yaml:"kind" json:"kind"`
	TokenFile string `yaml:"token_file" json:"token_file"`
	// API is the forge's API base URL; by default https://api.github.com for github.com, and for other
	// hosts https://HOST/api/v3 (GitHub Enterprise), https://HOST/api/v4 (GitLab) or https://HOST/api/v1
	// (Gitea, Forgejo).
	API string `yaml:"api" json:"api,omitempty"`
	// Repo is "owner/name" (GitLab: the project's full path); by default the URL's path without ".git".
	Repo string `yaml:"repo" json:"repo,omitempty"`
	// Context names Baleen's status among the commit's checks (default "baleen").
	Context string `yaml:"context" json:"context,omitempty"`
}

// The forge kinds a status may be sent to.
var kinds = []string{"github", "gitlab", "gitea", "forgejo"}

// Validate checks the mirror of project and fills in the status defaults.
func (m *Mirror) Validate(project string) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("mirrors.%s: "+format+": %w", append(append([]any{project}, args...), baleen.ErrInvalid)...))
	}
	if err := baleen.ValidateProjectName(project); err != nil {
		errs = append(errs, fmt.Errorf("mirrors: %w", err))
	}
	if m.URL == "" {
		bad("url: give the repository's URL")
	}
	if u, err := url.Parse(m.URL); err == nil && credentials(u) && strings.Contains(m.URL, "://") {
		bad("url: put no credentials in the URL; give them under git_credentials")
	}
	for _, b := range m.Branches {
		if b == "" || strings.HasPrefix(b, "-") || strings.Contains(b, "..") || strings.ContainsAny(b, " ~^:?*[\\") {
			bad("branches: %q is not a branch name", b)
		}
	}
	if m.Poll < 0 || (m.Poll > 0 && m.Poll < 10*time.Second) {
		bad("poll: want 0 (never) or 10s or more, got %s", m.Poll)
	}
	if s := m.Status; s != nil {
		if !slices.Contains(kinds, s.Kind) {
			bad("status.kind: %q: want github, gitlab, gitea or forgejo", s.Kind)
		}
		if s.TokenFile == "" {
			bad("status.token_file: give the file that holds the API token")
		}
		if err := s.fill(m.URL); err != nil {
			bad("status: %v", err)
		} else if err := s.check(); err != nil {
			bad("%v", err)
		}
	}
	return errors.Join(errs...)
}

// credentials reports whether u carries a credential: a password, or any user of an http(s) URL (a token
// is often given as the user). An ssh:// user (ssh://git@host/...) is a login name, not a secret.
func credentials(u *url.URL) bool {
	if u.User == nil {
		return false
	}
	scheme := strings.ToLower(u.Scheme)
	ssh := scheme == "ssh" || scheme == "git+ssh" || scheme == "ssh+git"
	_, pw := u.User.Password()
	return pw || !ssh
}

// fill derives the API base and the repository from the mirror's URL where they are not given.
func (s *StatusConfig) fill(src string) error {
	if s.Context == "" {
		s.Context = "baleen"
	}
	if s.API != "" && s.Repo != "" {
		return nil
	}
	u, err := url.Parse(src)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("give api and repo: they cannot be read from %q", baleen.RedactURL(src))
	}
	if s.Repo == "" {
		s.Repo = strings.TrimSuffix(strings.Trim(path.Clean(u.Path), "/"), ".git")
	}
	if s.API == "" {
		s.API = defaultAPI(s.Kind, u)
	}
	return nil
}

// check refuses an API base or a repository that no status call could be made with.
func (s *StatusConfig) check() error {
	u, err := url.Parse(s.API)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("status.api: %q: want an http:// or https:// URL", baleen.RedactURL(s.API))
	}
	if u.User != nil {
		return errors.New("status.api: put no credentials in the URL; the token is read from token_file")
	}
	for _, seg := range strings.Split(s.Repo, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.Trim(seg, repoChars) != "" {
			return fmt.Errorf("status.repo: %q: want owner/name (GitLab: group/.../name) of letters, digits, '.', '_' and '-'", s.Repo)
		}
	}
	return nil
}

const repoChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

func defaultAPI(kind string, u *url.URL) string {
	base := u.Scheme + "://" + u.Host
	switch kind {
	case "github":
		if u.Host == "github.com" {
			return "https://api.github.com"
		}
		return base + "/api/v3"
	case "gitlab":
		return base + "/api/v4"
	}
	return base + "/api/v1"
}
