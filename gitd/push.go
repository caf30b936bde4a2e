package gitd

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/baleen-ci/baleen"
)

// errAtomic refuses the other refs of an atomic push one of whose refs was refused.
var errAtomic = errors.New("atomic push failed: another ref of this push was refused")

// decide runs one push's ref updates through the server's checks and the Receiver, moves the refs that
// passed, and returns one error per update (nil: the ref moved).
func (s *Server) decide(p Push, out io.Writer, log *slog.Logger) []error {
	unlock := s.lockRefs(p, out)
	defer unlock()
	sto := openStorage(p.RepoPath)
	errs := checkUpdates(sto, p.Updates)
	if p.Atomic {
		atomicFail(errs)
	}
	var idx []int
	allowed := p
	allowed.Updates = nil
	for i, u := range p.Updates {
		if errs[i] == nil {
			allowed.Updates = append(allowed.Updates, u)
			idx = append(idx, i)
		}
	}
	if len(allowed.Updates) > 0 {
		res := s.receiver.Receive(s.base, allowed, out)
		for j, i := range idx {
			switch {
			case j < len(res) && res[j] != nil:
				errs[i] = res[j]
			case j >= len(res):
				errs[i] = fmt.Errorf("the build gave no verdict for %s", p.Updates[i].Name)
				log.Error("receiver returned too few results", "got", len(res), "want", len(allowed.Updates))
			}
		}
		if p.Atomic {
			atomicFail(errs)
		}
		s.moveRefs(p, errs)
		if pr, ok := s.receiver.(PostReceiver); ok {
			var moved []RefUpdate
			for _, i := range idx {
				if errs[i] == nil {
					moved = append(moved, p.Updates[i])
				}
			}
			pr.PostReceive(s.base, allowed, moved)
		}
	}
	for i, u := range p.Updates {
		lvl := slog.LevelInfo
		if errs[i] != nil {
			lvl = slog.LevelWarn
		}
		log.Log(s.base, lvl, "push", "ref", u.Name, "commit", u.New, "old", u.Old, "err", errs[i])
	}
	return errs
}

// lockRefs takes the locks of the refs p updates, in name order, and returns what releases them. A push
// holds them from its checks to its ref moves, so a second push of the same ref waits for the first, and
// then finds the ref moved and is refused before anything is built for it: the loser of a race never
// builds, tags, pushes or deploys.
func (s *Server) lockRefs(p Push, out io.Writer) (unlock func()) {
	names := make([]string, 0, len(p.Updates))
	for _, u := range p.Updates {
		names = append(names, u.Name)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	var held []*sync.Mutex
	for _, name := range names {
		l := s.refLocks.get(p.Project + "\x00" + name)
		if !l.TryLock() {
			fmt.Fprintf(out, "waiting for another push of %s to finish\n", name)
			l.Lock()
		}
		held = append(held, l)
	}
	return func() {
		for _, l := range held {
			l.Unlock()
		}
	}
}

// atomicFail refuses every update once one is refused.
func atomicFail(errs []error) {
	failed := false
	for _, err := range errs {
		failed = failed || err != nil
	}
	if !failed {
		return
	}
	for i := range errs {
		if errs[i] == nil {
			errs[i] = errAtomic
		}
	}
}

// checkUpdates refuses, before the Receiver sees them, the updates that cannot apply: a repeated ref, a new
// value that is missing, a branch pointing at something other than a commit, or an old value the ref no
// longer holds (the push lost a race: nothing is built for it). git has already checked the ref names and
// that the pushed history is complete.
func checkUpdates(sto *filesystem.Storage, updates []RefUpdate) []error {
	errs := make([]error, len(updates))
	seen := map[string]bool{}
	for i, u := range updates {
		name := plumbing.ReferenceName(u.Name)
		if seen[u.Name] {
			errs[i] = errors.New("ref updated twice in one push")
			continue
		}
		seen[u.Name] = true
		if u.New != zeroID {
			obj, err := sto.EncodedObject(plumbing.AnyObject, plumbing.NewHash(u.New))
			if err != nil {
				errs[i] = errors.New("missing necessary objects")
				continue
			}
			if name.IsBranch() && obj.Type() != plumbing.CommitObject {
				errs[i] = fmt.Errorf("a branch must point at a commit, not a %s", obj.Type())
				continue
			}
		}
		cur := zeroID
		if ref, err := sto.Reference(name); err == nil {
			cur = ref.Hash().String()
		}
		if cur != u.Old {
			errs[i] = fmt.Errorf("%s is at %s now, not %s; fetch first: %w", u.Name, short(cur), short(u.Old), baleen.ErrConflict)
		}
	}
	return errs
}

// moveRefs applies the updates whose error is nil, one push at a time per project, by compare-and-swap on
// their old values; an update that fails gets its error. An atomic push moves all its refs in one
// transaction, or none.
func (s *Server) moveRefs(p Push, errs []error) {
	unlock := s.locks.lock(p.Project)
	defer unlock()
	moved := false
	if p.Atomic {
		var batch []RefUpdate
		for i, u := range p.Updates {
			if errs[i] == nil {
				batch = append(batch, u)
			}
		}
		if len(batch) > 0 {
			if err := s.updateRefs(p.RepoPath, batch...); err != nil {
				for i := range errs {
					if errs[i] == nil {
						errs[i] = err
					}
				}
			} else {
				moved = true
			}
		}
	} else {
		for i, u := range p.Updates {
			if errs[i] != nil {
				continue
			}
			if err := s.updateRefs(p.RepoPath, u); err != nil {
				errs[i] = err
				continue
			}
			moved = true
		}
	}
	if moved {
		if err := s.fixHead(p.RepoPath); err != nil {
			s.log.Warn("set HEAD", "project", p.Project, "err", err)
		}
		go s.gcAuto(s.base, p.Project)
	}
}

// updateRefs applies updates in one git transaction, each by compare-and-swap on its old value. A ref that
// moved meanwhile is an error wrapping baleen.ErrConflict.
func (s *Server) updateRefs(repo string, updates ...RefUpdate) error {
	_, err := s.git.run(s.base, repo, updateRefInput(updates), "update-ref", "--stdin")
	if err != nil {
		if lostRace(err) {
			return fmt.Errorf("%s moved while this push ran; fetch and push again: %w", updates[0].Name, baleen.ErrConflict)
		}
		if strings.Contains(err.Error(), "cannot lock ref") {
			s.log.Warn("update refs", "err", err)
			return fmt.Errorf("%s is locked by another update on the server; push again shortly: %w", updates[0].Name, baleen.ErrConflict)
		}
		return err
	}
	return nil
}

// fixHead points HEAD at an existing branch when the branch it names does not exist: refs/heads/main if it
// exists, else the first branch by name. A repository made by its first push thus gets the pushed branch as
// its default.
func (s *Server) fixHead(repo string) error {
	if _, err := s.git.run(s.base, repo, nil, "rev-parse", "-q", "--verify", "HEAD"); err == nil {
		return nil
	}
	out, err := s.git.run(s.base, repo, nil, "for-each-ref", "--format=%(refname)", "refs/heads/")
	if err != nil {
		return err
	}
	var pick string
	for _, name := range strings.Fields(string(out)) {
		if name == "refs/heads/main" {
			pick = name
			break
		}
		if pick == "" {
			pick = name
		}
	}
	if pick == "" {
		return nil
	}
	_, err = s.git.run(s.base, repo, nil, "symbolic-ref", "HEAD", pick)
	return err
}

// short is the abbreviated form of an object id, or "nothing" for the zero id.
func short(id string) string {
	if id == zeroID || len(id) < 7 {
		return "nothing"
	}
	return id[:7]
}
