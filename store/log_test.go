package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/store"
)

// readLog reads the whole log of a build from offset.
func readLog(t testing.TB, s *store.Store, project string, number int, offset int64) string {
	t.Helper()
	r, err := s.Log(t.Context(), project, number, offset)
	if err != nil {
		t.Fatalf("Log(%s#%d, %d): %v", project, number, offset, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read log of %s#%d from %d: %v", project, number, offset, err)
	}
	return string(b)
}

// logWriter opens the log writer of a build and closes it when the test ends.
func logWriter(t testing.TB, s *store.Store, project string, number int) io.WriteCloser {
	t.Helper()
	w, err := s.LogWriter(t.Context(), project, number)
	if err != nil {
		t.Fatalf("LogWriter(%s#%d): %v", project, number, err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("close log writer: %v", err)
		}
	})
	return w
}

func write(t testing.TB, w io.Writer, s string) {
	t.Helper()
	n, err := io.WriteString(w, s)
	if err != nil || n != len(s) {
		t.Fatalf("Write: got %d, %v, want %d, nil", n, err, len(s))
	}
}

// TestLogWhileWriting reads a log at several offsets while it is being written: the small writes stay in
// the writer's buffer, the large one is committed in chunks, and a reader must see both.
func TestLogWhileWriting(t *testing.T) {
	s, _ := openStore(t)
	mustProject(t, s, "api")
	mustBuild(t, s, baleen.Build{Project: "api"})

	if got := readLog(t, s, "api", 1, 0); got != "" {
		t.Errorf("log before any writer: got %q, want empty", got)
	}
	w := logWriter(t, s, "api", 1)
	var want strings.Builder
	steps := []string{
		"step 1\n",
		"step 2\n",
		strings.Repeat("0123456789abcdef", 5000) + "\n", // 80 KiB: three chunks
		"tail, buffered\n",
	}
	for _, step := range steps {
		write(t, w, step)
		want.WriteString(step)
		all := want.String()
		offsets := []int64{0, 1, int64(len(all)) / 2, 32 << 10, 32<<10 + 1, int64(len(all)) - 3, int64(len(all)), int64(len(all)) + 10}
		for _, off := range offsets {
			wantPart := ""
			if off < int64(len(all)) {
				wantPart = all[off:]
			}
			if got := readLog(t, s, "api", 1, off); got != wantPart {
				t.Fatalf("after writing %d bytes, log from %d: got %d bytes, want %d (%q...)", len(all), off, len(got), len(wantPart), head(wantPart))
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := readLog(t, s, "api", 1, 0); got != want.String() {
		t.Errorf("log after Close: got %d bytes, want %d", len(got), want.Len())
	}
}

func head(s string) string { return s[:min(len(s), 20)] }

// TestLogReaderIsSnapshot checks that a reader stops where the log ended when it was opened.
func TestLogReaderIsSnapshot(t *testing.T) {
	s, _ := openStore(t)
	mustProject(t, s, "api")
	mustBuild(t, s, baleen.Build{Project: "api"})
	w := logWriter(t, s, "api", 1)
	first := strings.Repeat("a", 40<<10)
	write(t, w, first)
	r, err := s.Log(t.Context(), "api", 1, 0)
	if err != nil {
		t.Fatalf("Log: %v", err)
	}
	defer r.Close()
	write(t, w, strings.Repeat("b", 40<<10))
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if string(got) != first {
		t.Errorf("reader opened after %d bytes: got %d bytes, want %d", len(first), len(got), len(first))
	}
}

// TestLogLargeWrite writes more in one call than badger takes in one transaction.
func TestLogLargeWrite(t *testing.T) {
	s, _ := openStore(t)
	mustProject(t, s, "api")
	mustBuild(t, s, baleen.Build{Project: "api"})
	var big bytes.Buffer
	for i := 0; big.Len() < 3<<20; i++ {
		fmt.Fprintf(&big, "line %d\n", i)
	}
	w := logWriter(t, s, "api", 1)
	write(t, w, big.String())
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, off := range []int64{0, 12345, int64(big.Len()) - 1} {
		if got := readLog(t, s, "api", 1, off); got != big.String()[off:] {
			t.Errorf("log from %d: got %d bytes, want %d", off, len(got), big.Len()-int(off))
		}
	}
}

// TestLogAppendsAcrossWriters checks that a later writer of a build appends to what an earlier one wrote.
func TestLogAppendsAcrossWriters(t *testing.T) {
	s, _ := openStore(t)
	mustProject(t, s, "api")
	mustBuild(t, s, baleen.Build{Project: "api"})
	for _, part := range []string{"first\n", "second\n"} {
		w, err := s.LogWriter(t.Context(), "api", 1)
		if err != nil {
			t.Fatalf("LogWriter: %v", err)
		}
		write(t, w, part)
		if err := w.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("second Close: got %v, want nil", err)
		}
		if _, err := w.Write([]byte("late")); err == nil {
			t.Errorf("Write after Close: got nil error, want one")
		}
	}
	if got, want := readLog(t, s, "api", 1, 0), "first\nsecond\n"; got != want {
		t.Errorf("log: got %q, want %q", got, want)
	}
}

func TestLogErrors(t *testing.T) {
	s, _ := openStore(t)
	mustProject(t, s, "api")
	mustBuild(t, s, baleen.Build{Project: "api"})
	mustBuild(t, s, baleen.Build{Project: "api"})
	logWriter(t, s, "api", 2)
	ctx := t.Context()
	tests := []struct {
		name    string
		call    func() error
		wantErr error
		wantMsg string
	}{
		{name: "Log unknown build", call: func() error { _, err := s.Log(ctx, "api", 9, 0); return err },
			wantErr: baleen.ErrNotFound, wantMsg: "read log: build api#9: not found: Key not found"},
		{name: "Log unknown project", call: func() error { _, err := s.Log(ctx, "web", 1, 0); return err }, wantErr: baleen.ErrNotFound},
		{name: "Log negative offset", call: func() error { _, err := s.Log(ctx, "api", 1, -1); return err }, wantErr: baleen.ErrInvalid},
		{name: "LogWriter unknown build", call: func() error { _, err := s.LogWriter(ctx, "api", 9); return err }, wantErr: baleen.ErrNotFound},
		{name: "LogWriter invalid project", call: func() error { _, err := s.LogWriter(ctx, "API", 1); return err }, wantErr: baleen.ErrInvalid},
		{name: "second LogWriter", call: func() error { _, err := s.LogWriter(ctx, "api", 2); return err },
			wantErr: baleen.ErrConflict, wantMsg: "log writer: build api#2 has an open log writer: conflict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("message: got %q, want %q", err.Error(), tt.wantMsg)
			}
		})
	}
	// A failed LogWriter leaves no writer registered for the build.
	w, err := s.LogWriter(ctx, "api", 1)
	if err != nil {
		t.Fatalf("LogWriter(api#1): %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestLogConcurrentWriters writes the logs of many builds at once, each with its own writer, while
// readers follow them.
func TestLogConcurrentWriters(t *testing.T) {
	const builds, lines = 8, 2000
	s, _ := openStore(t)
	mustProject(t, s, "api")
	for range builds {
		mustBuild(t, s, baleen.Build{Project: "api"})
	}
	want := func(n int) string {
		var b strings.Builder
		for i := range lines {
			fmt.Fprintf(&b, "build %d line %d %s\n", n, i, strings.Repeat("x", i%50))
		}
		return b.String()
	}
	var wg sync.WaitGroup
	for n := 1; n <= builds; n++ {
		wg.Go(func() {
			w, err := s.LogWriter(t.Context(), "api", n)
			if err != nil {
				t.Errorf("LogWriter(api#%d): %v", n, err)
				return
			}
			for i := range lines {
				fmt.Fprintf(w, "build %d line %d %s\n", n, i, strings.Repeat("x", i%50))
				if i%500 == 0 {
					// Whatever a reader sees is a prefix of the final log.
					r, err := s.Log(t.Context(), "api", n, 0)
					if err != nil {
						t.Errorf("Log(api#%d): %v", n, err)
						continue
					}
					got, err := io.ReadAll(r)
					if err != nil || !strings.HasPrefix(want(n), string(got)) || len(got) == 0 {
						t.Errorf("log of api#%d while writing: got %d bytes (err %v), want a non-empty prefix of the log", n, len(got), err)
					}
				}
			}
			if err := w.Close(); err != nil {
				t.Errorf("Close(api#%d): %v", n, err)
			}
		})
	}
	wg.Wait()
	for n := 1; n <= builds; n++ {
		if got := readLog(t, s, "api", n, 0); got != want(n) {
			t.Errorf("log of api#%d: got %d bytes, want %d", n, len(got), len(want(n)))
		}
	}
}

// BenchmarkLogWrite appends lines of build output, as a chatty build produces them.
func BenchmarkLogWrite(b *testing.B) {
	s, _ := openStore(b)
	ctx := b.Context()
	if err := s.CreateProject(ctx, baleen.Project{Name: "api"}); err != nil {
		b.Fatal(err)
	}
	if _, err := s.CreateBuild(ctx, baleen.Build{Project: "api"}); err != nil {
		b.Fatal(err)
	}
	w, err := s.LogWriter(ctx, "api", 1)
	if err != nil {
		b.Fatal(err)
	}
	line := []byte("Step 3/7 : RUN go build -o /out/app ./cmd/app && echo done building\n")
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Write(line); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}
