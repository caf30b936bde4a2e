package main

import (
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/object"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// TestServeGitCompat pushes and clones through a real `baleen serve` the ways real clients do: push options,
// --atomic with one red branch, a trailing slash, and go-git as a client (a shallow clone and a push).
func TestServeGitCompat(t *testing.T) {
	s := newServer(t)
	s.start()
	r := s.newRepo(projectFiles("e2e-compat", greenTest))
	green := r.head()
	want(t, r.push(s.url("compat"), "main"), 0, "remote: PASSED")

	t.Run("ci.skip stores without a build", func(t *testing.T) {
		r.write(map[string]string{"README": "skipped"})
		skipped := r.commit("skipped")
		want(t, r.push("-o", "ci.skip", "-o", "frobnicate", s.url("compat"), "main:skipped"), 0,
			"refs/heads/skipped stored without a build (ci.skip)", `push option "frobnicate" ignored`)
		if got := s.remoteRef("compat", "refs/heads/skipped"); got != skipped {
			t.Errorf("skipped: got %q, want %q", got, skipped)
		}
		if bs := decodeBuilds(t, s.ssh("builds", "compat", "--json").stdout); len(bs) != 1 {
			t.Errorf("builds after a ci.skip push: got %d, want 1", len(bs))
		}
	})

	t.Run("atomic with one red branch moves nothing", func(t *testing.T) {
		r.git("checkout", "-q", "-b", "red", green)
		r.write(map[string]string{"test.sh": redTest})
		r.commit("red")
		r.git("checkout", "-q", "main")
		r.write(map[string]string{"README": "green again"})
		r.commit("green")
		res := r.push("--atomic", s.url("compat"), "main", "red")
		want(t, res, 1, "failed: test", "atomic push failed")
		if got := s.remoteRef("compat", "refs/heads/main"); got != green {
			t.Errorf("main after a refused atomic push: got %q, want it kept at %q", got, green)
		}
		if got := s.remoteRef("compat", "refs/heads/red"); got != "" {
			t.Errorf("red after a refused atomic push: got %q, want no ref", got)
		}
	})

	t.Run("trailing slash", func(t *testing.T) {
		res := s.exec("", append(gitEnv(s.home), "GIT_SSH_COMMAND="+s.gitSSH(s.key)), "git", "ls-remote", s.url("compat.git/"))
		want(t, res, 0, "refs/heads/main")
	})

	t.Run("go-git client", func(t *testing.T) {
		auth, err := gitssh.NewPublicKeysFromFile("git", s.key, "")
		if err != nil {
			t.Fatal(err)
		}
		auth.HostKeyCallback = gossh.InsecureIgnoreHostKey() // the test's own server on loopback
		dir := filepath.Join(t.TempDir(), "gogit")
		repo, err := git.PlainClone(dir, false, &git.CloneOptions{URL: s.url("compat"), Auth: auth, Depth: 1})
		if err != nil {
			t.Fatalf("go-git shallow clone: %v", err)
		}
		head, err := repo.Head()
		if err != nil || head.Hash().String() != green {
			t.Fatalf("go-git clone HEAD: got %v %v, want %s", head, err, green)
		}
		wt, _ := repo.Worktree()
		c, err := wt.Commit("from go-git", &git.CommitOptions{AllowEmptyCommits: true, Author: &object.Signature{Name: "t", Email: "t@example.com"}})
		if err != nil {
			t.Fatal(err)
		}
		err = repo.Push(&git.PushOptions{Auth: auth, RefSpecs: []config.RefSpec{"refs/heads/main:refs/heads/gogit"}})
		if err != nil {
			t.Fatalf("go-git push: %v", err)
		}
		if got := s.remoteRef("compat", "refs/heads/gogit"); got != c.String() {
			t.Errorf("gogit: got %q, want %q", got, c)
		}
	})
}
