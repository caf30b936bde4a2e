package gitd

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/internal/shell"
	"github.com/go-git/go-git/v5/plumbing"
	gossh "golang.org/x/crypto/ssh"
)

// FetchConfig says how Baleen authenticates when it fetches dependency repositories.
type FetchConfig struct {
	// KeyPath is the server's own SSH key for fetching (OpenSSH ed25519), made on first use; its public
	// half goes to the git host as a deploy key.
	KeyPath string
	// KnownHostsPath is the OpenSSH known_hosts file that ssh:// sources are checked against. Without
	// one, ssh:// sources are refused: a fetch never trusts an unknown host key.
	KnownHostsPath string
	// HTTP holds credentials for https:// sources by host; a host without an entry is fetched anonymously.
	HTTP map[string]HTTPCredential
	// AllowGitProtocol lets sources use git://, which is neither authenticated nor encrypted.
	AllowGitProtocol bool
	// Scope says which projects may fetch with the key and with each login of HTTP (access.Policy has
	// it); nil lets every fetch use them, as `baleen build` does with its user's own key.
	Scope FetchScope
}

// FetchScope says which projects may fetch with the server's credentials. Its methods are safe for
// concurrent use.
type FetchScope interface {
	// FetchKeyAllowed reports whether a fetch made for project may use the fetch key (KeyPath).
	FetchKeyAllowed(project string) bool
	// GitCredentialAllowed reports whether a fetch made for project may use host's login in HTTP.
	GitCredentialAllowed(host, project string) bool
}

// HTTPCredential is a user name and password (or token) for an https git host.
type HTTPCredential struct {
	Username string
	Password string
}

// fetcher holds what fetching needs, once per Repositories.
type fetcher struct {
	cfg   FetchConfig
	mu    sync.Mutex // guards the key's creation and the per-project locks
	locks map[string]*sync.Mutex
}

// WithFetch returns Repositories that fetch with cfg.
func (r *Repositories) WithFetch(cfg FetchConfig) *Repositories {
	return &Repositories{dir: r.dir, fetch: &fetcher{cfg: cfg, locks: map[string]*sync.Mutex{}}}
}

// DeployKey returns the public half of the server's fetch key in authorized_keys form, making the key
// first if need be.
func (r *Repositories) DeployKey() (string, error) {
	s, err := r.signer()
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.PublicKey()))) + " baleen-deploy-key", nil
}

func (r *Repositories) signer() (gossh.Signer, error) {
	if r.fetch == nil || r.fetch.cfg.KeyPath == "" {
		return nil, errors.New("no fetch key configured")
	}
	r.fetch.mu.Lock()
	defer r.fetch.mu.Unlock()
	return loadOrCreateHostKey(r.fetch.cfg.KeyPath)
}

func (r *Repositories) lock(project string) func() {
	r.fetch.mu.Lock()
	l := r.fetch.locks[project]
	if l == nil {
		l = &sync.Mutex{}
		r.fetch.locks[project] = l
	}
	r.fetch.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Fetch fetches branch of src into project's repository, which it creates if need be, and returns the
// branch fetched (the remote's default branch when branch is empty) and the commit at its head. src is any
// URL git can fetch (ssh://, https://, file://, scp-like HOST:PATH, git:// when the config allows it) or an
// absolute path. git fetch does the work, under the same fsck as a push: ssh through OpenSSH with the fetch
// key and known_hosts, https with the configured credentials.
//
// forProjects are the projects the fetch is made for: the project whose baleen.yml names src and every
// dependent above it, down from the build that started the chain (a mirror: its own project). With a
// Scope, the fetch key and a host's login are used only when every one of them may use it: an ssh source
// is refused otherwise, and an https one fetched anonymously.
func (r *Repositories) Fetch(ctx context.Context, forProjects []string, project, src, branch string) (string, string, error) {
	if r.fetch == nil {
		r = r.WithFetch(FetchConfig{})
	}
	if err := baleen.ValidateProjectName(project); err != nil {
		return "", "", err
	}
	kind, err := r.sourceKind(src)
	if err != nil {
		return "", "", fmt.Errorf("fetch %s: %w", baleen.RedactURL(src), err)
	}
	env, target, anonymous, err := r.fetchEnv(kind, src, forProjects)
	if err != nil {
		return "", "", fmt.Errorf("fetch %s: %w", baleen.RedactURL(src), err)
	}
	fetchErr := func(src string, err error) error {
		if anonymous != "" {
			err = fmt.Errorf("%w (fetched without a login: %s)", err, anonymous)
		}
		return wordFetchErr(src, err)
	}
	unlock := r.lock(project)
	defer unlock()
	dir := filepath.Join(r.dir, project+".git")
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if _, err := createBareRepo(r.dir, project); err != nil {
			return "", "", err
		}
	}
	g := &gitRunner{env: env}
	if branch == "" {
		out, err := g.run(ctx, dir, nil, append(fetchFlags(kind, r.fetch.cfg.AllowGitProtocol), "ls-remote", "--symref", "--", target, "HEAD")...)
		if err != nil {
			return "", "", fetchErr(src, err)
		}
		ref, _, _ := strings.Cut(strings.TrimPrefix(strings.SplitN(string(out), "\n", 2)[0], "ref: "), "\t")
		if !strings.HasPrefix(ref, "refs/heads/") {
			return "", "", fmt.Errorf("fetch %s: the remote names no default branch; set branch in baleen.yml", baleen.RedactURL(src))
		}
		branch = strings.TrimPrefix(ref, "refs/heads/")
	}
	local := plumbing.NewBranchReferenceName(branch)
	if local.Validate() != nil {
		return "", "", fmt.Errorf("fetch %s: branch %q: %w", baleen.RedactURL(src), branch, baleen.ErrInvalid)
	}
	args := append(fetchFlags(kind, r.fetch.cfg.AllowGitProtocol), "fetch", "-q", "--no-tags", "--no-write-fetch-head", "--", target, "+"+local.String()+":"+local.String())
	if _, err := g.run(ctx, dir, nil, args...); err != nil {
		if strings.Contains(err.Error(), "couldn't find remote ref") {
			return "", "", fmt.Errorf("fetch %s: no branch %q there: %w", baleen.RedactURL(src), branch, baleen.ErrNotFound)
		}
		return "", "", fetchErr(src, err)
	}
	out, err := g.run(ctx, dir, nil, "rev-parse", "--verify", "-q", local.String()+"^{commit}")
	if err != nil {
		return "", "", fmt.Errorf("fetch %s: branch %s: %w", baleen.RedactURL(src), branch, baleen.ErrNotFound)
	}
	return branch, strings.TrimSpace(string(out)), nil
}

// The kinds of source a dependency may name.
const (
	srcPath  = "file"
	srcSSH   = "ssh"
	srcHTTPS = "https"
	srcHTTP  = "http"
	srcGit   = "git"
)

// sourceKind says how src is fetched, refusing what must not be: control characters or spaces (an option
// or a second argument in disguise), a relative name (it would be a path relative to the server's working
// directory: a bare name must be a project on this server, which the pipeline resolves before it gets
// here), git:// unless allowed, and any other scheme (ext::, fd::).
func (r *Repositories) sourceKind(src string) (string, error) {
	for _, c := range src {
		if c <= ' ' || c == 0x7f {
			return "", fmt.Errorf("the source holds a space or a control character: %w", baleen.ErrInvalid)
		}
	}
	if strings.HasPrefix(src, "-") {
		return "", fmt.Errorf("the source starts with '-': %w", baleen.ErrInvalid)
	}
	if scheme, _, ok := strings.Cut(src, "://"); ok {
		switch strings.ToLower(scheme) {
		case "ssh", "git+ssh", "ssh+git":
			return srcSSH, nil
		case "https":
			return srcHTTPS, nil
		case "http":
			return srcHTTP, nil
		case "file":
			return srcPath, nil
		case "git":
			if !r.fetch.cfg.AllowGitProtocol {
				return "", fmt.Errorf("git:// sources are unauthenticated and unencrypted; allow them with allow_git_protocol in the server config: %w", baleen.ErrInvalid)
			}
			return srcGit, nil
		default:
			return "", fmt.Errorf("scheme %s:// is not supported; use ssh://, https:// or a path: %w", scheme, baleen.ErrInvalid)
		}
	}
	if filepath.IsAbs(src) {
		return srcPath, nil
	}
	if strings.Contains(src, "::") {
		return "", fmt.Errorf("transport helpers (<helper>::<address>) are not supported: %w", baleen.ErrInvalid)
	}
	if host, _, ok := strings.Cut(src, ":"); ok && !strings.Contains(host, "/") && host != "" {
		return srcSSH, nil // scp-like [user@]host:path
	}
	return "", fmt.Errorf("%q is not a project on this server, nor a URL or an absolute path: %w", src, baleen.ErrInvalid)
}

// fetchFlags are the settings of every fetch: the same fsck as a push, and only the protocols of kind.
func fetchFlags(kind string, allowGit bool) []string {
	gitProto := "never"
	if allowGit {
		gitProto = "always"
	}
	return []string{"-c", "transfer.fsckObjects=true", "-c", "fetch.fsckObjects=true", "-c", "protocol.allow=never",
		"-c", "protocol.file.allow=always", "-c", "protocol.ssh.allow=always", "-c", "protocol.https.allow=always",
		"-c", "protocol.http.allow=always", "-c", "protocol.git.allow=" + gitProto, "-c", "credential.helper=",
		"-c", "core.hooksPath=/dev/null"}
}

// fetchEnv is the environment of a fetch from src made for forProjects, and the URL to hand git: ssh
// through OpenSSH with the fetch key and known_hosts (user "git" unless the URL names one), https with the
// configured credentials passed in the environment (never on a command line others may read), http
// anonymously. anonymous says why an https fetch goes without a login, for its failure's message.
func (r *Repositories) fetchEnv(kind, src string, forProjects []string) (env []string, target, anonymous string, err error) {
	env = []string{"GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=/bin/false", "SSH_ASKPASS=/bin/false"}
	if r.fetch.cfg.Scope != nil {
		// On a server, the only logins a fetch may use are the scoped ones below: never one in the server
		// user's ~/.gitconfig or ~/.config/git/config (an extraHeader, a credential helper) nor curl's
		// ~/.netrc. Git settings the operator sets on purpose stay: $XDG_CONFIG_HOME/git/config.
		env = append(env, "HOME=/nonexistent")
	}
	switch kind {
	case srcSSH:
		if r.fetch.cfg.KnownHostsPath == "" {
			return nil, "", "", fmt.Errorf("ssh sources need known_hosts in the server config: %w", baleen.ErrInvalid)
		}
		if err := r.keyScope(forProjects); err != nil {
			return nil, "", "", err
		}
		if _, err := r.signer(); err != nil {
			return nil, "", "", err
		}
		ssh := []string{"ssh", "-F", "/dev/null", "-i", r.fetch.cfg.KeyPath, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
			"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + r.fetch.cfg.KnownHostsPath,
			"-o", "GlobalKnownHostsFile=/dev/null", "-o", "ConnectTimeout=30"}
		env = append(env, "GIT_SSH_COMMAND="+shell.Join(ssh), "GIT_SSH_VARIANT=ssh")
		return env, withSSHUser(src), "", nil
	case srcHTTPS:
		u, err := url.Parse(src)
		if err != nil {
			return nil, "", "", fmt.Errorf("not a URL: %w", baleen.ErrInvalid)
		}
		allowed := func(p string) bool { return r.fetch.cfg.Scope.GitCredentialAllowed(u.Host, p) }
		c, ok := r.fetch.cfg.HTTP[u.Host]
		p, inScope := r.outsideScope(forProjects, allowed)
		if ok && inScope {
			token := base64.StdEncoding.EncodeToString([]byte(c.Username + ":" + c.Password))
			env = append(env, "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.https://"+u.Host+"/.extraHeader",
				"GIT_CONFIG_VALUE_0=Authorization: Basic "+token)
			return env, src, "", nil
		}
		if r.fetch.cfg.Scope == nil {
			return env, src, "", nil // `baleen build`: no server config to point at
		}
		// The same words whether the host has a login or not: a pusher learns nothing of the config.
		return env, src, "no login under git_credentials for " + u.Host + " is for project " + p, nil
	}
	return env, src, "", nil
}

// keyScope refuses a fetch with the fetch key made for forProjects when one of them may not use it.
func (r *Repositories) keyScope(forProjects []string) error {
	if p, ok := r.outsideScope(forProjects, func(p string) bool { return r.fetch.cfg.Scope.FetchKeyAllowed(p) }); !ok {
		return fmt.Errorf("ssh sources are fetched with the server's fetch key, which project %s may not use: "+
			"the server's config lists the projects that may under fetch_key_projects: %w", p, baleen.ErrUnauthorized)
	}
	return nil
}

// MayFetch returns the error that Fetch would return for src, made for forProjects, before it connects:
// a source it refuses, or an ssh source that a project of forProjects may not fetch with the fetch key.
// The pipeline asks it before it makes a project for src, so that a refused source leaves none.
func (r *Repositories) MayFetch(forProjects []string, src string) error {
	if r.fetch == nil {
		r = r.WithFetch(FetchConfig{})
	}
	kind, err := r.sourceKind(src)
	if err == nil && kind == srcSSH {
		err = r.keyScope(forProjects)
	}
	if err != nil {
		return fmt.Errorf("fetch %s: %w", baleen.RedactURL(src), err)
	}
	return nil
}

// outsideScope returns the first of projects that allowed refuses, and false; or "" and true when every one
// may use the credential. Without a Scope every fetch may; with one, a fetch made for no project may not.
func (r *Repositories) outsideScope(projects []string, allowed func(string) bool) (string, bool) {
	if r.fetch.cfg.Scope == nil {
		return "", true
	}
	if len(projects) == 0 {
		return "(none)", false
	}
	for _, p := range projects {
		if !allowed(p) {
			return p, false
		}
	}
	return "", true
}

// withSSHUser names the user "git" in an ssh source that names none.
func withSSHUser(src string) string {
	if u, err := url.Parse(src); err == nil && strings.Contains(src, "://") {
		if u.User == nil {
			u.User = url.User("git")
		}
		return u.String()
	}
	if host, _, _ := strings.Cut(src, ":"); !strings.Contains(host, "@") {
		return "git@" + src
	}
	return src
}

// wordFetchErr words a fetch failure, keeping credentials out of it.
func wordFetchErr(src string, err error) error {
	msg := err.Error()
	if u, perr := url.Parse(src); perr == nil && u.User != nil {
		// A token may stand in the user name as well as in the password.
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
		if n := u.User.Username(); len(n) >= 8 {
			msg = strings.ReplaceAll(msg, n, "xxxxx")
		}
	}
	kind := baleen.ErrUnavailable
	switch {
	case strings.Contains(msg, "REMOTE HOST IDENTIFICATION HAS CHANGED"):
		msg = "host key mismatch: the host's key is not the one known_hosts lists; " + msg
		kind = baleen.ErrUnauthorized
	case strings.Contains(msg, "Permission denied"), strings.Contains(msg, "Authentication failed"),
		strings.Contains(msg, "Host key verification failed"):
		kind = baleen.ErrUnauthorized
	case strings.Contains(msg, "not found"), strings.Contains(msg, "does not appear to be a git repository"):
		kind = baleen.ErrNotFound
	}
	return fmt.Errorf("fetch %s: %s: %w", baleen.RedactURL(src), msg, kind)
}

// Contains reports whether rev (a full or abbreviated commit id) names a commit in the history of commit
// (commit itself included), and the full id rev names.
func (r *Repositories) Contains(_ context.Context, project, commit, rev string) (string, bool, error) {
	repo, err := r.open(project)
	if err != nil {
		return "", false, err
	}
	h, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return "", false, nil
	}
	head, err := repo.CommitObject(plumbing.NewHash(commit))
	if err != nil {
		return "", false, fmt.Errorf("commit %s of %s: %w", commit, project, baleen.ErrNotFound)
	}
	if head.Hash == *h {
		return h.String(), true, nil
	}
	c, err := repo.CommitObject(*h)
	if err != nil {
		return h.String(), false, nil
	}
	ok, err := c.IsAncestor(head)
	if err != nil {
		return h.String(), false, fmt.Errorf("history of %s: %w", project, err)
	}
	return h.String(), ok, nil
}
