package gitd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/config"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// zeroID is the object id git uses for "no object": the old value of a created ref, the new value of a
// deleted one.
const zeroID = "0000000000000000000000000000000000000000"

// projectLocks hands out one mutex per project; ref updates and repository creation for a project run one at
// a time under it. It is safe for concurrent use.
type projectLocks struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func (p *projectLocks) lock(project string) (unlock func()) {
	l := p.get(project)
	l.Lock()
	return l.Unlock
}

// get returns the mutex of key, made on first use.
func (p *projectLocks) get(key string) *sync.Mutex {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.locks == nil {
		p.locks = map[string]*sync.Mutex{}
	}
	l, ok := p.locks[key]
	if !ok {
		l = new(sync.Mutex)
		p.locks[key] = l
	}
	return l
}

// repoPath is where project's bare repository lives. project must have passed baleen.ValidateProjectName.
func (s *Server) repoPath(project string) string {
	return filepath.Join(s.reposDir, project+".git")
}

// repoExists reports whether project's repository exists.
func (s *Server) repoExists(project string) (bool, error) {
	fi, err := os.Stat(s.repoPath(project))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("repository of %s: %w", project, err)
	case !fi.IsDir():
		return false, fmt.Errorf("repository of %s: %s is not a directory", project, s.repoPath(project))
	}
	return true, nil
}

// openStorage opens a bare repository's object and ref store for reading. Each call reads the packs
// afresh, so it sees what other sessions stored.
func openStorage(path string) *filesystem.Storage {
	return filesystem.NewStorage(osfs.New(path), cache.NewObjectLRUDefault())
}

// createBareRepo creates the bare repository <reposDir>/<project>.git with git init and the settings of
// repoConfig, and reports whether it made it: false when another process made it first. The repository is
// made in a temporary directory beside its final place and renamed there, so a crash never leaves half a
// repository. HEAD points at refs/heads/main until a push says otherwise.
func createBareRepo(reposDir, project string) (bool, error) {
	if err := os.MkdirAll(reposDir, 0o755); err != nil {
		return false, fmt.Errorf("create repository of %s: %w", project, err)
	}
	tmp, err := os.MkdirTemp(reposDir, ".new-"+project+"-")
	if err != nil {
		return false, fmt.Errorf("create repository of %s: %w", project, err)
	}
	_, err = (&gitRunner{}).run(context.Background(), reposDir, nil, "init", "-q", "--bare", "--initial-branch=main", tmp)
	if err == nil {
		err = appendConfig(filepath.Join(tmp, "config"))
	}
	if err == nil {
		err = os.Chmod(tmp, 0o755)
	}
	final := filepath.Join(reposDir, project+".git")
	if err == nil {
		err = os.Rename(tmp, final)
		if err != nil {
			if fi, serr := os.Stat(final); serr == nil && fi.IsDir() {
				return false, os.RemoveAll(tmp)
			}
		}
	}
	if err != nil {
		return false, errors.Join(fmt.Errorf("create repository of %s: %w", project, err), os.RemoveAll(tmp))
	}
	return true, nil
}

// repoConfig is what every repository keeps in its own config, for the git commands the server does not
// start itself with these settings (a gc run by hand, a fetch into it).
var repoConfig = [][2]string{
	{"receive.fsckObjects", "true"},
	{"transfer.fsckObjects", "true"},
	{"fetch.fsckObjects", "true"},
	{"repack.writeBitmaps", "true"},
	{"uploadpack.allowFilter", "true"},
	{"uploadpack.allowAnySHA1InWant", "false"},
	{"core.logAllRefUpdates", "true"},
}

// appendConfig adds repoConfig to a repository's config file.
func appendConfig(path string) error {
	var b strings.Builder
	section := ""
	for _, kv := range repoConfig {
		sec, key, _ := strings.Cut(kv[0], ".")
		if sec != section {
			fmt.Fprintf(&b, "[%s]\n", sec)
			section = sec
		}
		fmt.Fprintf(&b, "\t%s = %s\n", key, kv[1])
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(b.String())
	return errors.Join(werr, f.Close())
}

// objectFormat reads a repository's extensions.objectformat: "sha1" unless it says otherwise.
func objectFormat(repo string) string {
	f, err := os.Open(filepath.Join(repo, "config"))
	if err != nil {
		return "sha1"
	}
	defer f.Close()
	cfg := config.New()
	if err := config.NewDecoder(f).Decode(cfg); err != nil {
		return "sha1"
	}
	if v := cfg.Section("extensions").Option("objectformat"); v != "" {
		return strings.ToLower(v)
	}
	return "sha1"
}
