package gitd

import (
	"os"
	"strings"
	"sync"
)

// pushRepos counts the receive-packs running on each project's repository, so that a repository a push
// made for nothing can go again once the last of them ends. It is safe for concurrent use; its counts
// change under the project's lock (Server.locks).
type pushRepos struct {
	mu sync.Mutex
	m  map[string]*pushRepo
}

// pushRepo is one project's receive-packs in flight.
type pushRepo struct {
	n int
	// made says that one of them made the repository; received, that one of them reached the hook (the
	// Receiver has seen the project and may have recorded it).
	made, received bool
}

// get returns project's entry, made on first use.
func (p *pushRepos) get(project string) *pushRepo {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]*pushRepo{}
	}
	r, ok := p.m[project]
	if !ok {
		r = &pushRepo{}
		p.m[project] = r
	}
	return r
}

// markReceived records that a push of project reached the proc-receive hook.
func (p *pushRepos) markReceived(project string) {
	r := p.get(project)
	p.mu.Lock()
	r.received = true
	p.mu.Unlock()
}

// openForPush makes project's repository if it does not exist, for a receive-pack, and counts that push in;
// it reports whether it made the repository. Call closeForPush when the receive-pack has ended.
func (s *Server) openForPush(project string) (created bool, err error) {
	unlock := s.locks.lock(project)
	defer unlock()
	exists, err := s.repoExists(project)
	if err != nil {
		return false, err
	}
	if !exists {
		if created, err = createBareRepo(s.reposDir, project); err != nil {
			return false, err
		}
	}
	r := s.pushRepos.get(project)
	s.pushRepos.mu.Lock()
	r.n++
	r.made = r.made || created
	s.pushRepos.mu.Unlock()
	return created, nil
}

// closeForPush counts a receive-pack of project out. When it was the last, and a push made the repository
// but none reached the hook and the repository holds no ref (a dry run, a push of nothing, a push git
// refused whole), the repository is removed: only a push that stores something makes a project, and a
// connection that stored nothing leaves nothing on disk.
func (s *Server) closeForPush(project string) {
	unlock := s.locks.lock(project)
	defer unlock()
	s.pushRepos.mu.Lock()
	r := s.pushRepos.m[project]
	r.n--
	last := r.n == 0
	drop := last && r.made && !r.received
	if last {
		delete(s.pushRepos.m, project)
	}
	s.pushRepos.mu.Unlock()
	if !drop {
		return
	}
	repo := s.repoPath(project)
	out, err := s.git.run(s.base, repo, nil, "for-each-ref", "--count=1", "--format=%(refname)")
	if err != nil || strings.TrimSpace(string(out)) != "" {
		return
	}
	if err := os.RemoveAll(repo); err != nil {
		s.log.Warn("remove the empty repository of a push that stored nothing", "project", project, "err", err)
		return
	}
	s.log.Info("push stored nothing; repository removed", "project", project)
}
