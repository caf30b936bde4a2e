package gitd_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"

	"github.com/google/go-cmp/cmp"

	"github.com/baleen-ci/baleen/gitd"
)

func TestPushCreatesProject(t *testing.T) {
	e := newEnv(t)
	work := e.work("app")
	head := e.mustGit(work, "rev-parse", "HEAD")

	e.mustGit(work, "push", "-q", "origin", "main")

	want := []gitd.Push{{
		Project: "app", RepoPath: filepath.Join(e.reposDir, "app.git"), Created: true, Fingerprint: e.key.fingerprint(),
		Identity: baleen.Identity{User: e.key.fingerprint(), Fingerprint: e.key.fingerprint()},
		Updates:  []gitd.RefUpdate{{Name: "refs/heads/main", Old: zeroID, New: head}},
	}}
	if diff := cmp.Diff(want, e.recv.got()); diff != "" {
		t.Errorf("pushes (-want +got):\n%s", diff)
	}
	if got := e.refOf("app", "refs/heads/main"); got != head {
		t.Errorf("main on the server: got %q, want %q", got, head)
	}
	if out, _ := e.bare("app", "rev-parse", "--is-bare-repository"); strings.TrimSpace(out) != "true" {
		t.Errorf("is-bare-repository: got %q, want true", out)
	}
	if out, _ := e.bare("app", "symbolic-ref", "HEAD"); strings.TrimSpace(out) != "refs/heads/main" {
		t.Errorf("HEAD: got %q, want refs/heads/main", out)
	}
	e.fsck("app")

	// The second push finds the project.
	next := e.commit(work, "b.txt", "b\n")
	e.mustGit(work, "push", "-q", "origin", "main")
	got := e.recv.got()
	if len(got) != 2 || got[1].Created || got[1].Updates[0].Old != head || got[1].Updates[0].New != next {
		t.Errorf("second push: got %+v, want an update %s -> %s of an existing project", got[len(got)-1], head, next)
	}
	if got := e.refOf("app", "refs/heads/main"); got != next {
		t.Errorf("main after the second push: got %q, want %q", got, next)
	}
	e.fsck("app")
}

func TestPushRejected(t *testing.T) {
	e := newEnv(t)
	work := e.work("app")
	first := e.mustGit(work, "rev-parse", "HEAD")
	e.mustGit(work, "push", "-q", "origin", "main")

	e.recv.setFn(func(_ context.Context, p gitd.Push, _ io.Writer) []error {
		return []error{errors.New("build #2 failed: test")}
	})
	e.commit(work, "b.txt", "b\n")
	out, err := e.git(work, "push", "origin", "main")
	if err == nil {
		t.Fatalf("rejected push exited 0, want non-zero\n%s", out)
	}
	if want := "! [remote rejected] main -> main (build #2 failed: test)"; !strings.Contains(out, want) {
		t.Errorf("push output lacks %q:\n%s", want, out)
	}
	if got := e.refOf("app", "refs/heads/main"); got != first {
		t.Errorf("main after a rejected push: got %q, want it unchanged at %q", got, first)
	}
	e.fsck("app")
}

// TestProgressIsLive shows that what the Receiver writes reaches the pusher while Receive still runs: the
// fake blocks after writing until the test has read the line from git's stderr.
func TestProgressIsLive(t *testing.T) {
	e := newEnv(t)
	work := e.work("app")
	release := make(chan struct{})
	e.recv.setFn(func(_ context.Context, p gitd.Push, out io.Writer) []error {
		io.WriteString(out, "building main\n")
		<-release
		io.WriteString(out, "tests passed\n")
		return make([]error, len(p.Updates))
	})
	cmd := e.command(work, e.key, "git", "push", "--progress", "origin", "main")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := scanLines(stderr)
	var seen []string
	for sc.Scan() {
		line := sc.Text()
		seen = append(seen, line)
		if strings.TrimSpace(line) == "remote: building main" {
			break
		}
	}
	close(release)
	rest, _ := io.ReadAll(stderr)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("push: %v\n%s%s", err, strings.Join(seen, "\n"), rest)
	}
	if !strings.Contains(strings.Join(seen, "\n"), "remote: building main") {
		t.Fatalf("git never showed the progress line before the Receiver finished; got:\n%s", strings.Join(seen, "\n"))
	}
	if !strings.Contains(string(rest), "remote: tests passed") {
		t.Errorf("later progress missing; got:\n%s", rest)
	}
}

func TestDeleteOnlyPush(t *testing.T) {
	e := newEnv(t)
	work := e.work("app")
	e.mustGit(work, "branch", "feature")
	e.mustGit(work, "push", "-q", "origin", "main", "feature")
	feature := e.refOf("app", "refs/heads/feature")
	if feature == "" {
		t.Fatal("feature was not pushed")
	}

	e.mustGit(work, "push", "-q", "origin", "--delete", "feature")

	got := e.recv.got()
	want := []gitd.RefUpdate{{Name: "refs/heads/feature", Old: feature, New: zeroID}}
	if diff := cmp.Diff(want, got[len(got)-1].Updates); diff != "" {
		t.Errorf("delete push updates (-want +got):\n%s", diff)
	}
	if got := e.refOf("app", "refs/heads/feature"); got != "" {
		t.Errorf("feature after delete: got %q, want it gone", got)
	}
	e.fsck("app")
}

func TestUpToDatePush(t *testing.T) {
	e := newEnv(t)
	work := e.work("app")
	e.mustGit(work, "push", "-q", "origin", "main")

	out := e.mustGit(work, "push", "origin", "main")

	if !strings.Contains(out, "Everything up-to-date") {
		t.Errorf("second push output: got %q, want Everything up-to-date", out)
	}
	if got := len(e.recv.got()); got != 1 {
		t.Errorf("Receive calls: got %d, want 1", got)
	}
}

func TestTagPush(t *testing.T) {
	e := newEnv(t)
	work := e.work("app")
	head := e.mustGit(work, "rev-parse", "HEAD")
	e.mustGit(work, "push", "-q", "origin", "main")
	e.mustGit(work, "tag", "-a", "-m", "release one", "v1")
	tag := e.mustGit(work, "rev-parse", "v1")

	e.mustGit(work, "push", "-q", "origin", "v1")

	got := e.recv.got()
	want := []gitd.RefUpdate{{Name: "refs/tags/v1", Old: zeroID, New: tag}}
	if diff := cmp.Diff(want, got[len(got)-1].Updates); diff != "" {
		t.Errorf("tag push updates (-want +got):\n%s", diff)
	}
	ls := e.mustGit(work, "ls-remote", "origin")
	for _, line := range []string{tag + "\trefs/tags/v1", head + "\trefs/tags/v1^{}", head + "\tHEAD"} {
		if !strings.Contains(ls, line) {
			t.Errorf("ls-remote lacks %q:\n%s", line, ls)
		}
	}
	e.fsck("app")
}

func TestCloneAndFetch(t *testing.T) {
	e := newEnv(t)
	work := e.work("app")
	for i := range 40 {
		e.commit(work, "history.txt", strings.Repeat("line\n", i+1))
	}
	e.mustGit(work, "push", "-q", "origin", "main")
	head := e.mustGit(work, "rev-parse", "HEAD")

	clone := filepath.Join(t.TempDir(), "clone")
	e.mustGit(e.dir, "clone", "-q", e.remote("app.git"), clone)
	if got := e.mustGit(clone, "rev-parse", "HEAD"); got != head {
		t.Errorf("cloned HEAD: got %s, want %s", got, head)
	}
	if got := e.mustGit(clone, "symbolic-ref", "--short", "HEAD"); got != "main" {
		t.Errorf("cloned branch: got %s, want main", got)
	}
	if out, err := e.git(clone, "fsck", "--strict"); err != nil {
		t.Errorf("fsck of the clone: %v\n%s", err, out)
	}

	// The clone holds many commits the server does not know, so the fetch needs several rounds of "have"
	// lines before it finds a common one.
	for i := range 40 {
		e.commit(clone, "local.txt", strings.Repeat("local\n", i+1))
	}
	next := e.commit(work, "new.txt", "new\n")
	e.mustGit(work, "push", "-q", "origin", "main")

	e.mustGit(clone, "fetch", "-q", "origin")
	if got := e.mustGit(clone, "rev-parse", "origin/main"); got != next {
		t.Errorf("origin/main after fetch: got %s, want %s", got, next)
	}
	if out, err := e.git(clone, "fsck", "--strict"); err != nil {
		t.Errorf("fsck of the clone after fetch: %v\n%s", err, out)
	}
}

// TestUnknownProjectLeavesNothing: reading a project that does not exist (clone, fetch, ls-remote, over
// protocol v0 and v2) is refused with "project X does not exist" and a non-zero exit, and a push that
// stores nothing (a dry run, a push of no ref) leaves no repository behind; only a push that stores
// something makes one.
func TestUnknownProjectLeavesNothing(t *testing.T) {
	e := newEnv(t)
	work := e.work("other")
	tests := []struct {
		name string
		args []string
		want string // in the output; "" when git says it in its own words
	}{
		{"clone", []string{"clone", e.remote("nope.git"), filepath.Join(t.TempDir(), "nope")}, "project nope does not exist"},
		{"clone v0", []string{"-c", "protocol.version=0", "clone", e.remote("nope"), filepath.Join(t.TempDir(), "nope")}, "project nope does not exist"},
		{"fetch", []string{"-C", work, "fetch", e.remote("nope")}, "project nope does not exist"},
		{"ls-remote", []string{"ls-remote", e.remote("nope")}, "project nope does not exist"},
		{"push --dry-run", []string{"-C", work, "push", "--dry-run", e.remote("nope"), "main"}, ""},
		{"push of nothing", []string{"-C", work, "push", e.remote("nope"), "refs/heads/none:refs/heads/none"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := e.git(e.dir, tt.args...)
			if tt.want != "" {
				if err == nil {
					t.Errorf("exited 0, want a refusal\n%s", out)
				}
				if !strings.Contains(out, tt.want) {
					t.Errorf("output lacks %q:\n%s", tt.want, out)
				}
			}
			entries, _ := os.ReadDir(e.reposDir)
			for _, en := range entries {
				t.Errorf("left on disk: %s", en.Name())
			}
		})
	}
	e.mustGit(work, "push", "-q", e.remote("nope"), "main")
	if got := e.refOf("nope", "refs/heads/main"); got == "" {
		t.Error("a push that stored main made no repository")
	}
}

func TestRefusedProjectNames(t *testing.T) {
	e := newEnv(t)
	work := e.work("app")
	for _, name := range []string{"../x", "a/b", "Bad", "/etc/x", "x'y"} {
		t.Run(name, func(t *testing.T) {
			out, err := e.git(work, "push", e.remote(name), "main")
			if err == nil {
				t.Fatalf("push to %q exited 0\n%s", name, out)
			}
			if !strings.Contains(out, "project name") {
				t.Errorf("push to %q: output lacks a project name message:\n%s", name, out)
			}
		})
	}
	if got := len(e.recv.got()); got != 0 {
		t.Errorf("Receive calls: got %d, want 0", got)
	}
	entries, err := os.ReadDir(e.reposDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("repositories dir holds %v, want nothing", entries)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "x.git")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a repository appeared outside the repositories dir: %v", err)
	}
}

// readOnly is an Authorizer at the boundary of the access policy: every key may read every project, none
// may write.
type readOnly struct{}

func (readOnly) Role(context.Context, baleen.Identity, string) baleen.Role { return baleen.RoleRead }

// TestReaderPushMakesNoProject: a push to a new project by a key that may only read is refused before git
// runs, and leaves nothing on disk.
func TestReaderPushMakesNoProject(t *testing.T) {
	e := newEnvWith(t, func(c *gitd.Config) { c.Authz = readOnly{} })
	work := e.work("new")
	out, err := e.git(work, "push", e.remote("new"), "main")
	if err == nil || !strings.Contains(out, "it needs the write role") {
		t.Errorf("push by a reader: got %v, want a refusal naming the write role\n%s", err, out)
	}
	if entries, _ := os.ReadDir(e.reposDir); len(entries) != 0 {
		t.Errorf("a reader's push left %d entries in the repositories directory", len(entries))
	}
}
