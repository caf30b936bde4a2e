package gitd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/baleen-ci/baleen"
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
	p.mu.Lock()
	if p.locks == nil {
		p.locks = map[string]*sync.Mutex{}
	}
	l, ok := p.locks[project]
	if !ok {
		l = new(sync.Mutex)
		p.locks[project] = l
	}
	p.mu.Unlock()
	l.Lock()
	return l.Unlock
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

// openStorage opens a bare repository's object and ref store. Each call reads the packs afresh, so it sees
// what other sessions stored.
func openStorage(path string) *filesystem.Storage {
	return filesystem.NewStorage(osfs.New(path), cache.NewObjectLRUDefault())
}

// ensureRepo creates project's bare repository if it does not exist, and reports whether it did.
func (s *Server) ensureRepo(project string) (created bool, err error) {
	unlock := s.locks.lock(project)
	defer unlock()
	exists, err := s.repoExists(project)
	if err != nil || exists {
		return false, err
	}
	return createBareRepo(s.reposDir, project)
}

// createBareRepo creates the bare repository <reposDir>/<project>.git and reports whether it made it: false
// when another process made it first. The repository is made in a temporary directory beside its final
// place and renamed there, so a crash never leaves half a repository. HEAD points at refs/heads/main until
// a push says otherwise.
func createBareRepo(reposDir, project string) (bool, error) {
	if err := os.MkdirAll(reposDir, 0o755); err != nil {
		return false, fmt.Errorf("create repository of %s: %w", project, err)
	}
	tmp, err := os.MkdirTemp(reposDir, ".new-"+project+"-")
	if err != nil {
		return false, fmt.Errorf("create repository of %s: %w", project, err)
	}
	_, err = git.PlainInitWithOptions(tmp, &git.PlainInitOptions{
		Bare:        true,
		InitOptions: git.InitOptions{DefaultBranch: plumbing.Main},
	})
	if err == nil {
		// go-git writes no repositoryformatversion, and without it git ignores core.bare when run with
		// --git-dir; write the config git itself writes.
		err = os.WriteFile(filepath.Join(tmp, "config"), []byte(bareConfig), 0o644)
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

// bareConfig is the configuration `git init --bare` writes.
const bareConfig = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n"

// advertisedRef is one ref as the server shows it to a client.
type advertisedRef struct {
	name string
	hash plumbing.Hash
	// peeled is what an annotated tag points at; zero for anything else.
	peeled plumbing.Hash
}

// listRefs returns the repository's refs (not HEAD), sorted by name, with annotated tags peeled.
func listRefs(sto *filesystem.Storage) ([]advertisedRef, error) {
	iter, err := sto.IterReferences()
	if err != nil {
		return nil, fmt.Errorf("list refs: %w", err)
	}
	var refs []advertisedRef
	err = iter.ForEach(func(r *plumbing.Reference) error {
		if r.Type() != plumbing.HashReference || !strings.HasPrefix(r.Name().String(), "refs/") {
			return nil
		}
		ar := advertisedRef{name: r.Name().String(), hash: r.Hash()}
		if tag, err := object.GetTag(sto, r.Hash()); err == nil {
			ar.peeled = peel(sto, tag)
		}
		refs = append(refs, ar)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list refs: %w", err)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].name < refs[j].name })
	return refs, nil
}

// peel follows a chain of tags to the object at its end.
func peel(sto *filesystem.Storage, tag *object.Tag) plumbing.Hash {
	for range 16 {
		if tag.TargetType != plumbing.TagObject {
			return tag.Target
		}
		next, err := object.GetTag(sto, tag.Target)
		if err != nil {
			return tag.Target
		}
		tag = next
	}
	return tag.Target
}

// head returns the branch HEAD points at, and its commit when that branch exists.
func head(sto *filesystem.Storage) (target plumbing.ReferenceName, hash plumbing.Hash, ok bool) {
	ref, err := sto.Reference(plumbing.HEAD)
	if err != nil || ref.Type() != plumbing.SymbolicReference {
		return "", plumbing.ZeroHash, false
	}
	br, err := sto.Reference(ref.Target())
	if err != nil || br.Type() != plumbing.HashReference {
		return ref.Target(), plumbing.ZeroHash, false
	}
	return ref.Target(), br.Hash(), true
}

// updateRef applies u by compare-and-swap: the ref must still hold u.Old (or not exist, for a zero Old).
// The caller holds the project's lock. A ref that moved under the push is an error wrapping
// baleen.ErrConflict.
func updateRef(sto *filesystem.Storage, u RefUpdate) error {
	name := plumbing.ReferenceName(u.Name)
	old, nw := plumbing.NewHash(u.Old), plumbing.NewHash(u.New)
	cur := plumbing.ZeroHash
	ref, err := sto.Reference(name)
	switch {
	case errors.Is(err, plumbing.ErrReferenceNotFound):
	case err != nil:
		return fmt.Errorf("read %s: %w", u.Name, err)
	case ref.Type() != plumbing.HashReference:
		return fmt.Errorf("%s is a symbolic ref: %w", u.Name, baleen.ErrConflict)
	default:
		cur = ref.Hash()
	}
	if cur != old {
		return fmt.Errorf("%s moved to %s while this push ran; fetch and push again: %w", u.Name, short(cur), baleen.ErrConflict)
	}
	switch {
	case nw.IsZero():
		err = sto.RemoveReference(name)
	case old.IsZero():
		err = sto.SetReference(plumbing.NewHashReference(name, nw))
	default:
		err = sto.CheckAndSetReference(plumbing.NewHashReference(name, nw), plumbing.NewHashReference(name, old))
		if errors.Is(err, storage.ErrReferenceHasChanged) {
			err = fmt.Errorf("%s moved while this push ran; fetch and push again: %w", u.Name, baleen.ErrConflict)
		}
	}
	if err != nil {
		return fmt.Errorf("update %s: %w", u.Name, err)
	}
	return nil
}

// fixHead points HEAD at an existing branch when the branch it names does not exist: refs/heads/main if it
// exists, else the first branch by name. A repository made by its first push thus gets the pushed branch as
// its default.
func fixHead(sto *filesystem.Storage) error {
	target, _, ok := head(sto)
	if ok {
		return nil
	}
	refs, err := listRefs(sto)
	if err != nil {
		return err
	}
	var pick plumbing.ReferenceName
	for _, r := range refs {
		name := plumbing.ReferenceName(r.name)
		if name == plumbing.Main {
			pick = name
			break
		}
		if pick == "" && name.IsBranch() {
			pick = name
		}
	}
	if pick == "" || pick == target {
		return nil
	}
	if err := sto.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, pick)); err != nil {
		return fmt.Errorf("point HEAD at %s: %w", pick, err)
	}
	return nil
}

// short is the abbreviated form of an object id, or "nothing" for the zero id.
func short(h plumbing.Hash) string {
	if h.IsZero() {
		return "nothing"
	}
	return h.String()[:7]
}
