package gitd_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen/gitd"
)

// TestRejectedPushNamesNoServerPath: where the server keeps its data is no business of a pusher. A
// rejected push's whole output (git's messages, the `remote:` lines, the per-ref reasons) names no path
// under the data directory: neither the paths a Receiver's output and errors carry nor the one git's own
// error about a stale ref lock carries.
func TestRejectedPushNamesNoServerPath(t *testing.T) {
	e := newEnv(t)
	work := e.work("app")
	e.mustGit(work, "push", "-q", "origin", "main")
	tests := []struct {
		name    string
		prepare func(t *testing.T)
		fn      func(ctx context.Context, p gitd.Push, out io.Writer) []error
		want    string // what the rewritten message says instead
	}{
		{
			name: "receiver output and error",
			fn: func(_ context.Context, p gitd.Push, out io.Writer) []error {
				fmt.Fprintf(out, "reading %s\n", filepath.Join(p.RepoPath, "objects"))
				fmt.Fprintf(out, "socket %s", filepath.Join(e.dir, "gitd", "hook.sock")) // no newline: the last line
				return []error{fmt.Errorf("open %s: broken", filepath.Join(p.RepoPath, "HEAD"))}
			},
			want: "open app.git/HEAD: broken",
		},
		{
			name: "git's stale ref lock",
			prepare: func(t *testing.T) {
				lock := filepath.Join(e.reposDir, "app.git", "refs", "heads", "main.lock")
				if err := os.WriteFile(lock, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.Remove(lock) })
			},
			want: "refs/heads/main is locked by another update on the server",
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.prepare != nil {
				tt.prepare(t)
			}
			e.recv.setFn(tt.fn)
			t.Cleanup(func() { e.recv.setFn(nil) })
			e.commit(work, "README", fmt.Sprintf("change %d\n", i))
			out, err := e.git(work, "push", "origin", "main")
			if err == nil {
				t.Fatalf("push exited 0, want a rejection\n%s", out)
			}
			for _, p := range []string{e.dir, e.reposDir} {
				if strings.Contains(out, p) {
					t.Errorf("push output names the server path %s:\n%s", p, out)
				}
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("push output lacks %q:\n%s", tt.want, out)
			}
		})
	}
}
