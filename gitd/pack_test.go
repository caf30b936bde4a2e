package gitd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/go-cmp/cmp"
)

// testPack makes a small repository with the git CLI and returns a pack of its history and the head commit.
func testPack(t *testing.T) ([]byte, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the git CLI; -short runs without it")
	}
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("git not found: %v", err)
		}
		t.Skipf("git not found: %v", err)
	}
	dir := t.TempDir()
	gitRun(t, dir, "init", "-q", "-b", "main")
	for i, body := range []string{"one\n", "one\ntwo\n", strings.Repeat("one\ntwo\nthree\n", 50)} {
		if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		gitRun(t, dir, "add", "f.txt")
		gitRun(t, dir, "commit", "-q", "-m", "c"+string(rune('0'+i)))
	}
	head := gitRun(t, dir, "rev-parse", "HEAD")
	cmd := exec.Command("git", "pack-objects", "--stdout", "--revs", "-q")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader("HEAD\n")
	pack, err := cmd.Output()
	if err != nil {
		t.Fatalf("pack-objects: %v", err)
	}
	return pack, head
}

// noReadPastEnd fails the test if the pack reader asks for a byte after the pack: a real client sends
// nothing more and keeps the stream open, so such a read would hang.
type noReadPastEnd struct{ t *testing.T }

func (r noReadPastEnd) Read([]byte) (int, error) {
	r.t.Error("read past the end of the pack")
	return 0, errors.New("read past the end of the pack")
}

func TestStorePack(t *testing.T) {
	pack, head := testPack(t)
	repo := filepath.Join(t.TempDir(), "r.git")
	gitRun(t, filepath.Dir(repo), "init", "-q", "--bare", repo)

	n, err := storePack(repo, io.MultiReader(bytes.NewReader(pack), noReadPastEnd{t}))
	if err != nil {
		t.Fatalf("storePack: %v", err)
	}
	if n != 9 {
		t.Errorf("objects stored: got %d, want 9", n)
	}
	if _, err := openStorage(repo).EncodedObject(plumbing.CommitObject, plumbing.NewHash(head)); err != nil {
		t.Errorf("head commit %s not readable after storing: %v", head, err)
	}
	gitRun(t, repo, "update-ref", "refs/heads/main", head)
	gitRun(t, repo, "fsck", "--strict")
	leftovers, _ := filepath.Glob(filepath.Join(repo, "objects", "pack", "tmp_*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestStorePackRefuses(t *testing.T) {
	pack, _ := testPack(t)
	flipped := bytes.Clone(pack)
	flipped[len(flipped)/2] ^= 0xff
	badSum := bytes.Clone(pack)
	badSum[len(badSum)-1] ^= 0xff
	tests := map[string][]byte{
		"truncated":    pack[:len(pack)-30],
		"corrupted":    flipped,
		"bad checksum": badSum,
		"not a pack":   []byte("HELLO this is not a pack at all"),
		"empty":        nil,
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			repo := t.TempDir()
			if _, err := storePack(repo, bytes.NewReader(data)); err == nil {
				t.Fatal("storePack accepted a bad pack")
			}
			entries, _ := os.ReadDir(filepath.Join(repo, "objects", "pack"))
			if len(entries) != 0 {
				t.Errorf("files left after a refused pack: %v", entries)
			}
		})
	}
}

func FuzzCopyPack(f *testing.F) {
	f.Add([]byte("PACK\x00\x00\x00\x02\x00\x00\x00\x00"))
	f.Add([]byte("PACK\x00\x00\x00\x02\x00\x00\x00\x01\x95\x0a"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		n, err := copyPack(&out, bytes.NewReader(data))
		if err == nil && (out.Len() < 32 || !bytes.Equal(out.Bytes(), data[:out.Len()])) {
			t.Fatalf("copyPack accepted %d objects but copied %d bytes that are not a prefix of the input", n, out.Len())
		}
	})
}

// pipeBuffer is a writer the progress pump writes to, that a test can read and make fail.
type pipeBuffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	fail bool
}

func (p *pipeBuffer) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail {
		return 0, errors.New("connection closed")
	}
	return p.b.Write(b)
}

func (p *pipeBuffer) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.b.String()
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestProgressKeepalive(t *testing.T) {
	var sink pipeBuffer
	p := startProgress(t.Context(), newBandWriter(&sink, true, false), time.Millisecond, nil)
	waitUntil(t, "a keepalive packet", func() bool { return strings.Contains(sink.String(), "0005\x02") })
	p.Write([]byte("hello\n"))
	waitUntil(t, "the progress line", func() bool { return strings.Contains(sink.String(), "000b\x02hello\n") })
	if !p.stopAndFlush() {
		t.Error("stopAndFlush: client reported gone, want present")
	}
}

func TestProgressAfterClientLeft(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var sink pipeBuffer
	gone := make(chan string, 1)
	p := startProgress(ctx, newBandWriter(&sink, true, false), time.Hour, func(reason string) { gone <- reason })
	cancel()
	if got := <-gone; got != "client disconnected" {
		t.Errorf("gone reason: got %q, want %q", got, "client disconnected")
	}
	if n, err := p.Write([]byte("more\n")); n != 5 || err != nil {
		t.Errorf("Write after the client left: got %d, %v; want 5, nil", n, err)
	}
	if p.stopAndFlush() {
		t.Error("stopAndFlush: got client present, want gone")
	}
	if strings.Contains(sink.String(), "more") {
		t.Errorf("output after the client left was sent: %q", sink.String())
	}
}

func TestBandWriterSplitsPackets(t *testing.T) {
	var sink pipeBuffer
	w := newBandWriter(&sink, false, true) // side-band: at most 1000 bytes a packet
	if err := w.send(bandData, bytes.Repeat([]byte("x"), 2500)); err != nil {
		t.Fatal(err)
	}
	pr := newPktReader(strings.NewReader(sink.String()))
	var sizes []int
	for {
		line, _, err := pr.next()
		if err != nil {
			break
		}
		if line[0] != bandData {
			t.Fatalf("band: got %d, want %d", line[0], bandData)
		}
		sizes = append(sizes, len(line)-1)
	}
	if diff := cmp.Diff([]int{995, 995, 510}, sizes); diff != "" {
		t.Errorf("packet payloads (-want +got):\n%s", diff)
	}
}
