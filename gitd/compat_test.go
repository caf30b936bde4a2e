package gitd_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	gossh "golang.org/x/crypto/ssh"

	"github.com/baleen-ci/baleen/gitd"
)

// pushed makes project on the server with three commits on main, and returns the work tree and its commits.
func (e *env) pushed(project string) (string, []string) {
	e.t.Helper()
	work := e.work(project)
	commits := []string{e.mustGit(work, "rev-parse", "HEAD")}
	for i := range 2 {
		commits = append(commits, e.commit(work, fmt.Sprintf("f%d.txt", i), fmt.Sprintf("%d\n", i)))
	}
	e.mustGit(work, "push", "-q", "origin", "main")
	return work, commits
}

// TestCloneShapes: what today's clients ask of upload-pack works, through git's own upload-pack.
func TestCloneShapes(t *testing.T) {
	e := newEnv(t)
	_, commits := e.pushed("app")
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, clone string)
	}{
		{"depth 1", []string{"--depth", "1"}, func(t *testing.T, clone string) {
			if got := e.mustGit(clone, "rev-list", "--count", "HEAD"); got != "1" {
				t.Errorf("commits in a --depth 1 clone: got %s, want 1", got)
			}
		}},
		{"shallow since", []string{"--shallow-since", "2000-01-01"}, func(t *testing.T, clone string) {
			if got := e.mustGit(clone, "rev-parse", "HEAD"); got != commits[2] {
				t.Errorf("HEAD: got %s, want %s", got, commits[2])
			}
		}},
		{"partial blob:none", []string{"--filter=blob:none", "--no-checkout"}, func(t *testing.T, clone string) {
			missing := e.mustGit(clone, "rev-list", "--objects", "--missing=print", "--all")
			n := 0
			for _, line := range strings.Split(missing, "\n") {
				if strings.HasPrefix(line, "?") {
					n++
				}
			}
			if n < 3 {
				t.Errorf("a blob:none clone holds its blobs: got %d missing, want at least 3\n%s", n, missing)
			}
		}},
		{"full", nil, func(t *testing.T, clone string) {
			e.mustGit(clone, "fsck", "--strict")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clone := filepath.Join(t.TempDir(), "c")
			e.mustGit(e.dir, append(append([]string{"clone", "-q"}, tt.args...), "ssh://git@127.0.0.1:"+e.port+"/app", clone)...)
			tt.check(t, clone)
		})
	}
}

// TestProtocolV2: a client that asks for protocol v2 (git's default) gets it.
func TestProtocolV2(t *testing.T) {
	e := newEnv(t)
	e.pushed("app")
	cmd := e.command(e.dir, e.key, "git", "-c", "protocol.version=2", "ls-remote", e.remote("app"))
	cmd.Env = append(cmd.Env, "GIT_TRACE_PACKET=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ls-remote: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "< version 2") {
		t.Errorf("packet trace lacks the server's \"version 2\":\n%s", out)
	}
	if !strings.Contains(string(out), "refs/heads/main") {
		t.Errorf("ls-remote lacks main:\n%s", out)
	}
}

// TestPushFromShallowClone: a CI checkout made with --depth 1 can push.
func TestPushFromShallowClone(t *testing.T) {
	e := newEnv(t)
	e.pushed("app")
	clone := filepath.Join(t.TempDir(), "c")
	e.mustGit(e.dir, "clone", "-q", "--depth", "1", e.remote("app"), clone)
	next := e.commit(clone, "shallow.txt", "from a shallow clone\n")
	e.mustGit(clone, "push", "-q", "origin", "main")
	if got := e.refOf("app", "refs/heads/main"); got != next {
		t.Errorf("main: got %s, want %s", got, next)
	}
	e.fsck("app")
}

// TestPushOptionsAndAtomic: push options and --atomic reach the Receiver; one refused ref of an atomic push
// keeps every ref where it was.
func TestPushOptionsAndAtomic(t *testing.T) {
	e := newEnv(t)
	work, commits := e.pushed("app")
	e.mustGit(work, "push", "-q", "origin", "main:other")
	e.recv.setFn(func(_ context.Context, p gitd.Push, _ io.Writer) []error {
		errs := make([]error, len(p.Updates))
		for i, u := range p.Updates {
			if u.Name == "refs/heads/other" {
				errs[i] = errors.New("build #9 failed: test")
			}
		}
		return errs
	})
	next := e.commit(work, "g.txt", "g\n")
	out, err := e.git(work, "push", "--atomic", "-o", "ci.skip", "-o", "deploy=false", "origin", "main", "main:other")
	if err == nil {
		t.Fatalf("atomic push with a refused ref exited 0\n%s", out)
	}
	if got := e.refOf("app", "refs/heads/main"); got != commits[2] {
		t.Errorf("main after a refused atomic push: got %s, want it unchanged at %s (next %s)", got, commits[2], next)
	}
	if !strings.Contains(out, "atomic push failed") {
		t.Errorf("output lacks why main was refused:\n%s", out)
	}
	got := e.recv.got()
	last := got[len(got)-1]
	if !last.Atomic || strings.Join(last.Options, ",") != "ci.skip,deploy=false" {
		t.Errorf("push: got atomic %v, options %q; want true, [ci.skip deploy=false]", last.Atomic, last.Options)
	}
	// Without --atomic the green ref moves alone.
	out, err = e.git(work, "push", "origin", "main", "main:other")
	if err == nil || e.refOf("app", "refs/heads/main") != next || e.refOf("app", "refs/heads/other") != commits[2] {
		t.Errorf("non-atomic push: main %s, other %s; want main at %s, other kept\n%s", e.refOf("app", "refs/heads/main"), e.refOf("app", "refs/heads/other"), next, out)
	}
}

// TestForceAndLease: a forced push and --force-with-lease behave as with any git server.
func TestForceAndLease(t *testing.T) {
	e := newEnv(t)
	work, commits := e.pushed("app")
	e.mustGit(work, "reset", "-q", "--hard", commits[1])
	rewritten := e.commit(work, "r.txt", "rewritten\n")
	if out, err := e.git(work, "push", "origin", "main"); err == nil {
		t.Fatalf("non-fast-forward push without force exited 0\n%s", out)
	}
	if out, err := e.git(work, "push", "--force-with-lease=main:"+commits[0], "origin", "main"); err == nil {
		t.Fatalf("push with a stale lease exited 0\n%s", out)
	}
	e.mustGit(work, "push", "-q", "--force-with-lease=main:"+commits[2], "origin", "main")
	if got := e.refOf("app", "refs/heads/main"); got != rewritten {
		t.Errorf("main after a forced push: got %s, want %s", got, rewritten)
	}
}

// TestThinPush: a one-line change to a large file travels as a small thin pack.
func TestThinPush(t *testing.T) {
	e := newEnv(t)
	work := e.work("app")
	var big strings.Builder
	for i := range 60000 {
		fmt.Fprintf(&big, "line %d of a large file that changes by one line\n", i)
	}
	e.commit(work, "big.txt", big.String())
	e.mustGit(work, "push", "-q", "origin", "main")
	e.commit(work, "big.txt", strings.Replace(big.String(), "line 30000 of", "LINE 30000 of", 1))
	out := e.mustGit(work, "push", "--progress", "origin", "main")
	i := strings.LastIndex(out, "Writing objects: 100%")
	if i < 0 {
		t.Fatalf("push output lacks \"Writing objects\":\n%s", out)
	}
	line := out[i:]
	line = line[:strings.IndexAny(line, "\r\n|")]
	if strings.Contains(line, "MiB") || strings.Contains(line, "GiB") {
		t.Errorf("a one-line change sent %q; want a thin pack of a few KiB at most (the file is %d bytes)", line, big.Len())
	}
}

// TestConcurrentLsRemoteDuringPushes: refs are replaced atomically, so reading them while pushes move
// them never fails.
func TestConcurrentLsRemoteDuringPushes(t *testing.T) {
	e := newEnv(t)
	work, _ := e.pushed("app")
	done := make(chan struct{})
	var failures []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if out, err := e.git(e.dir, "ls-remote", e.remote("app")); err != nil || !strings.Contains(out, "refs/heads/main") {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("%v: %s", err, out))
				mu.Unlock()
			}
		}
	})
	for i := range 10 {
		e.commit(work, "n.txt", fmt.Sprintf("%d\n", i))
		e.mustGit(work, "push", "-q", "origin", "main")
	}
	close(done)
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("%d ls-remote calls failed during pushes; first: %s", len(failures), failures[0])
	}
}

// rawPush sends a hand-made push (one ref update and a pack) to git-receive-pack on the server and returns
// everything the server answered.
func (e *env) rawPush(project, old, nw, ref string, pack []byte) string {
	e.t.Helper()
	args := append(e.sshArgs(e.key)[1:], "git@127.0.0.1", "git-receive-pack '"+project+"'")
	cmd := e.command(e.dir, e.key, "ssh", args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	sc := pktline.NewScanner(stdout)
	for sc.Scan() && len(sc.Bytes()) > 0 {
	}
	enc := pktline.NewEncoder(stdin)
	if err := enc.Encodef("%s %s %s\x00report-status\n", old, nw, ref); err != nil {
		e.t.Fatal(err)
	}
	_ = enc.Flush()
	_, _ = stdin.Write(pack)
	var answer strings.Builder
	for sc.Scan() {
		answer.Write(sc.Bytes())
	}
	stdin.Close()
	_ = cmd.Wait()
	return answer.String() + stderr.String()
}

// packOf builds a pack of the given objects of a local repository.
func (e *env) packOf(dir string, objects ...string) []byte {
	e.t.Helper()
	cmd := e.command(dir, e.key, "git", "pack-objects", "--stdout")
	cmd.Stdin = strings.NewReader(strings.Join(objects, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		e.t.Fatalf("pack-objects: %v", err)
	}
	return out
}

// TestIncompletePacksRefused: a push whose commit names objects that are neither in its pack nor on the
// server (a missing parent, tree or blob) is refused, and the repository stays whole. This stops a push
// from making every later clone fail.
func TestIncompletePacksRefused(t *testing.T) {
	e := newEnv(t)
	work, commits := e.pushed("app")
	hidden := e.commit(work, "hidden.txt", "never sent\n")
	top := e.commit(work, "top.txt", "top\n")
	topTree := e.mustGit(work, "rev-parse", top+"^{tree}")
	topBlob := e.mustGit(work, "rev-parse", top+":top.txt")
	hiddenBlob := e.mustGit(work, "rev-parse", hidden+":hidden.txt")
	tests := []struct {
		name    string
		objects []string
	}{
		{"missing parent", []string{top, topTree, topBlob, hiddenBlob}},
		{"missing tree", []string{top}},
		{"missing blob", []string{top, topTree}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answer := e.rawPush("app", commits[2], top, "refs/heads/main", e.packOf(work, tt.objects...))
			if strings.Contains(answer, "ok refs/heads/main") || !strings.Contains(answer, "ng refs/heads/main") {
				t.Errorf("push of an incomplete pack: got %q, want ng for main", answer)
			}
			if got := e.refOf("app", "refs/heads/main"); got != commits[2] {
				t.Errorf("main: got %s, want it unchanged at %s", got, commits[2])
			}
			e.fsck("app")
			clone := filepath.Join(t.TempDir(), "c")
			e.mustGit(e.dir, "clone", "-q", e.remote("app"), clone)
		})
	}
}

// TestBadTreesRefused: trees holding .git or .. entries are refused by git's fsck, so that a checkout of
// the project can never write into a .git directory or outside its work tree.
func TestBadTreesRefused(t *testing.T) {
	e := newEnv(t)
	work, commits := e.pushed("app")
	blob := e.mustGit(work, "rev-parse", "HEAD:README")
	empty := e.mustGit(work, "hash-object", "-t", "tree", "-w", "/dev/null")
	for _, entry := range []string{
		"100644 blob " + blob + "\t.git",
		"040000 tree " + empty + "\t.git",
		"100644 blob " + blob + "\t..",
		"100644 blob " + blob + "\t.GIT",
	} {
		t.Run(strings.Fields(entry)[1]+" "+strings.Split(entry, "\t")[1], func(t *testing.T) {
			cmd := e.command(work, e.key, "git", "mktree")
			cmd.Stdin = strings.NewReader(entry + "\n")
			tree, err := cmd.Output()
			if err != nil {
				t.Fatalf("mktree: %v", err)
			}
			c := e.mustGit(work, "commit-tree", "-p", commits[2], "-m", "bad", strings.TrimSpace(string(tree)))
			out, err := e.git(work, "push", "origin", c+":refs/heads/main")
			if err == nil {
				t.Fatalf("push of a tree with %q exited 0\n%s", entry, out)
			}
			if got := e.refOf("app", "refs/heads/main"); got != commits[2] {
				t.Errorf("main: got %s, want it unchanged", got)
			}
		})
	}
}

// deltaBomb is a pack of a 16 MiB blob of zeros and one delta against it that rebuilds a blob of 1 GiB:
// a few KiB on the wire.
func deltaBomb() []byte {
	const baseSize = 1 << 24
	var pack bytes.Buffer
	pack.WriteString("PACK")
	binary.Write(&pack, binary.BigEndian, uint32(2))
	binary.Write(&pack, binary.BigEndian, uint32(2))
	header := func(typ byte, size uint64) {
		b := typ<<4 | byte(size&0x0f)
		size >>= 4
		for size > 0 {
			pack.WriteByte(b | 0x80)
			b = byte(size & 0x7f)
			size >>= 7
		}
		pack.WriteByte(b)
	}
	deflate := func(p []byte) {
		w := zlib.NewWriter(&pack)
		w.Write(p)
		w.Close()
	}
	baseOffset := pack.Len()
	header(3, baseSize)
	deflate(make([]byte, baseSize))
	varint := func(b *bytes.Buffer, n uint64) {
		for n >= 0x80 {
			b.WriteByte(byte(n) | 0x80)
			n >>= 7
		}
		b.WriteByte(byte(n))
	}
	const copies = 65
	var delta bytes.Buffer
	varint(&delta, baseSize)
	varint(&delta, copies*0xffffff)
	for range copies {
		delta.Write([]byte{0xf0, 0xff, 0xff, 0xff}) // copy 0xffffff bytes from offset 0
	}
	deltaOffset := pack.Len()
	header(6, uint64(delta.Len()))
	// The offset back to the base, in git's ofs-delta encoding.
	off := uint64(deltaOffset - baseOffset)
	var enc []byte
	enc = append(enc, byte(off&0x7f))
	for off >>= 7; off > 0; off >>= 7 {
		off--
		enc = append([]byte{byte(off&0x7f) | 0x80}, enc...)
	}
	pack.Write(enc)
	deflate(delta.Bytes())
	sum := sha1.Sum(pack.Bytes())
	pack.Write(sum[:])
	return pack.Bytes()
}

// maxServerGrowth bounds how far the server's own memory (this test process's resident set and Go heap)
// may rise while git handles a delta bomb: the bomb rebuilds 1 GiB, all of it in the git child.
const maxServerGrowth = 64 << 20

// TestDeltaBombFailsAlone: a small pack whose delta rebuilds a 1 GiB object fails under its git child's
// memory limit; the server's own memory stays flat (within maxServerGrowth) meanwhile, and it goes on
// serving.
func TestDeltaBombFailsAlone(t *testing.T) {
	e := newEnvWith(t, func(c *gitd.Config) { c.GitMemoryLimit = 512 << 20 })
	_, commits := e.pushed("app")
	bomb := deltaBomb()
	if len(bomb) > 64<<10 {
		t.Fatalf("the bomb is %d bytes; want a small pack", len(bomb))
	}
	mem := watchMemory(t)
	answer := e.rawPush("app", zeroID, commits[0], "refs/tags/bomb", bomb)
	rss, heap := mem.stop(t)
	t.Logf("server memory during the bomb: resident set +%d KiB (peak from VmHWM: %v), Go heap +%d KiB", rss>>10, mem.hwmReset, heap>>10)
	if rss > maxServerGrowth || heap > maxServerGrowth {
		t.Errorf("the server's own memory rose by %d MiB resident, %d MiB heap while git handled the bomb; want at most %d MiB",
			rss>>20, heap>>20, maxServerGrowth>>20)
	}
	if strings.Contains(answer, "unpack ok") {
		t.Fatalf("delta bomb: got %q, want the unpack to fail", answer)
	}
	if got := e.refOf("app", "refs/tags/bomb"); got != "" {
		t.Errorf("refs/tags/bomb: got %s, want no ref", got)
	}
	e.fsck("app")
	clone := filepath.Join(t.TempDir(), "c")
	e.mustGit(e.dir, "clone", "-q", e.remote("app"), clone)
	if _, err := os.Stat(filepath.Join(clone, "README")); err != nil {
		t.Errorf("clone after the bomb: %v", err)
	}
}

// TestPeriodicMaintenance: packs do not pile up in a repository; the server's periodic git maintenance
// repacks one that holds more than gc.autoPackLimit packs.
func TestPeriodicMaintenance(t *testing.T) {
	e := newEnvWith(t, func(c *gitd.Config) { c.MaintenanceInterval = 200 * time.Millisecond })
	e.pushed("app")
	packDir := filepath.Join(e.reposDir, "app.git", "objects", "pack")
	// The packs are made aside and put in place at once, so that no gc sees fewer than 60 of them.
	aside := filepath.Join(e.dir, "aside")
	if err := os.MkdirAll(aside, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		cmd := e.command(e.dir, e.key, "git", "--git-dir", filepath.Join(e.reposDir, "app.git"), "hash-object", "-w", "--stdin")
		cmd.Stdin = strings.NewReader(fmt.Sprintf("object %d\n", i))
		oid, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		pack := e.command(e.dir, e.key, "git", "--git-dir", filepath.Join(e.reposDir, "app.git"), "pack-objects", "-q", filepath.Join(aside, "pack"))
		pack.Stdin = bytes.NewReader(oid)
		if out, err := pack.CombinedOutput(); err != nil {
			t.Fatalf("pack-objects: %v\n%s", err, out)
		}
	}
	existing, _ := filepath.Glob(filepath.Join(packDir, "*"))
	for _, f := range existing {
		if err := os.Rename(f, filepath.Join(aside, filepath.Base(f))); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(packDir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(aside, packDir); err != nil {
		t.Fatal(err)
	}
	packs := func() int {
		m, _ := filepath.Glob(filepath.Join(packDir, "*.pack"))
		return len(m)
	}
	waitFor(t, "maintenance to repack 60 packs", func() bool { return packs() <= 2 })
	e.fsck("app")
}

// TestRSAHostKey: a client that knows only RSA host keys connects, with SHA-2 signatures and with the
// ssh-rsa (SHA-1) ones older JSch releases use.
func TestRSAHostKey(t *testing.T) {
	var rsaPath string
	e := newEnvWith(t, func(c *gitd.Config) {
		rsaPath = filepath.Join(t.TempDir(), "rsa_host_key")
		c.RSAHostKeyPath = rsaPath
	})
	e.pushed("app")
	pem, err := os.ReadFile(rsaPath)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("[127.0.0.1]:%s %s", e.port, gossh.MarshalAuthorizedKey(signer.PublicKey()))
	if err := os.WriteFile(e.knownHosts, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, alg := range []string{"rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"} {
		t.Run(alg, func(t *testing.T) {
			out, err := e.git(e.dir, "-c", "core.sshCommand="+strings.Join(e.sshArgs(e.key), " ")+" -o HostKeyAlgorithms="+alg,
				"ls-remote", e.remote("app"))
			if err != nil || !strings.Contains(out, "refs/heads/main") {
				t.Errorf("ls-remote with host key algorithm %s: %v\n%s", alg, err, out)
			}
		})
	}
}

// TestSHA256RepositoryRefused: a repository in SHA-256 object format gets a clear message, not a protocol
// error.
func TestSHA256RepositoryRefused(t *testing.T) {
	e := newEnv(t)
	if out, err := e.git(e.dir, "init", "-q", "--bare", "--object-format=sha256", filepath.Join(e.reposDir, "new.git")); err != nil {
		t.Fatalf("git init sha256: %v\n%s", err, out)
	}
	out, err := e.git(e.dir, "ls-remote", e.remote("new"))
	if err == nil || !strings.Contains(out, "only SHA-1 repositories are supported") {
		t.Errorf("ls-remote of a SHA-256 repository: got %v, want a refusal saying only SHA-1 is supported\n%s", err, out)
	}
}
