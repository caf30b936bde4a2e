package gitd

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/baleen-ci/baleen"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
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
// URL git can fetch (ssh://, https://, file://) or a path.
func (r *Repositories) Fetch(ctx context.Context, project, src, branch string) (string, string, error) {
	if r.fetch == nil {
		r = r.WithFetch(FetchConfig{})
	}
	if err := baleen.ValidateProjectName(project); err != nil {
		return "", "", err
	}
	unlock := r.lock(project)
	defer unlock()
	if _, err := os.Stat(filepath.Join(r.dir, project+".git")); errors.Is(err, os.ErrNotExist) {
		if _, err := createBareRepo(r.dir, project); err != nil {
			return "", "", err
		}
	}
	repo, err := r.open(project)
	if err != nil {
		return "", "", err
	}
	auth, err := r.auth(src)
	if err != nil {
		return "", "", fmt.Errorf("fetch %s: %w", baleen.RedactURL(src), err)
	}
	remote := git.NewRemote(repo.Storer, &config.RemoteConfig{Name: "src", URLs: []string{src}})
	if branch == "" {
		refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: auth})
		if err != nil {
			return "", "", fetchErr(src, err)
		}
		for _, ref := range refs {
			if ref.Name() == plumbing.HEAD && ref.Type() == plumbing.SymbolicReference {
				branch = ref.Target().Short()
			}
		}
		if branch == "" {
			return "", "", fmt.Errorf("fetch %s: the remote names no default branch; set branch in baleen.yml", baleen.RedactURL(src))
		}
	}
	local := plumbing.NewBranchReferenceName(branch)
	spec := config.RefSpec("+" + local.String() + ":" + local.String())
	err = remote.FetchContext(ctx, &git.FetchOptions{RefSpecs: []config.RefSpec{spec}, Auth: auth, Force: true, Tags: git.NoTags})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		if errors.Is(err, git.NoMatchingRefSpecError{}) || strings.Contains(err.Error(), "couldn't find remote ref") {
			return "", "", fmt.Errorf("fetch %s: no branch %q there: %w", baleen.RedactURL(src), branch, baleen.ErrNotFound)
		}
		return "", "", fetchErr(src, err)
	}
	ref, err := repo.Reference(local, true)
	if err != nil {
		return "", "", fmt.Errorf("fetch %s: branch %s: %w", baleen.RedactURL(src), branch, baleen.ErrNotFound)
	}
	return branch, ref.Hash().String(), nil
}

// fetchErr words a fetch failure, keeping credentials out of it.
func fetchErr(src string, err error) error {
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
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		kind = baleen.ErrUnauthorized
	case errors.Is(err, transport.ErrRepositoryNotFound):
		kind = baleen.ErrNotFound
	}
	return fmt.Errorf("fetch %s: %s: %w", baleen.RedactURL(src), msg, kind)
}

// auth picks the credentials for src.
func (r *Repositories) auth(src string) (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(src)
	if err != nil {
		return nil, fmt.Errorf("not a git URL or path: %w", baleen.ErrInvalid)
	}
	switch ep.Protocol {
	case "ssh":
		if r.fetch.cfg.KnownHostsPath == "" {
			return nil, fmt.Errorf("ssh sources need known_hosts in the server config: %w", baleen.ErrInvalid)
		}
		hostKeys, err := knownhosts.New(r.fetch.cfg.KnownHostsPath)
		if err != nil {
			return nil, fmt.Errorf("known_hosts: %w", err)
		}
		signer, err := r.signer()
		if err != nil {
			return nil, err
		}
		user := ep.User
		if user == "" {
			user = "git"
		}
		return &gitssh.PublicKeys{User: user, Signer: signer, HostKeyCallbackHelper: gitssh.HostKeyCallbackHelper{HostKeyCallback: hostKeys}}, nil
	case "https":
		if c, ok := r.fetch.cfg.HTTP[ep.Host]; ok {
			return &http.BasicAuth{Username: c.Username, Password: c.Password}, nil
		}
		return nil, nil
	case "http":
		// Credentials never travel in clear: plain http is fetched anonymously.
		return nil, nil
	default:
		return nil, nil
	}
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
