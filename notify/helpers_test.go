package notify_test

import (
	"bufio"
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/events"
	"github.com/baleen-ci/baleen/notify"
	"github.com/baleen-ci/baleen/store"
)

const testSecret = "s3cret-signing-key"

// openStore opens a real badger store in dir with the project "shop-api".
func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateProject(context.Background(), baleen.Project{Name: "shop-api"}); err != nil && !errors.Is(err, baleen.ErrExists) {
		t.Fatal(err)
	}
	return st
}

// spec describes one build record to make.
type spec struct {
	branch   string
	status   baleen.Status
	failures []string
	coverage float64
	commit   string
	log      string
}

// record makes a finished build in st as the scheduler would, with its report and log.
func record(t *testing.T, st *store.Store, s spec) baleen.Build {
	t.Helper()
	ctx := context.Background()
	if s.branch == "" {
		s.branch = "main"
	}
	if s.commit == "" {
		s.commit = fmt.Sprintf("%040d", time.Now().UnixNano())
	}
	b, err := st.CreateBuild(ctx, baleen.Build{Project: "shop-api", Branch: s.branch, Commit: s.commit, Pusher: "SHA256:abc"})
	if err != nil {
		t.Fatal(err)
	}
	rep := &baleen.TestReport{Passed: 10, Failed: len(s.failures)}
	for _, f := range s.failures {
		rep.Failures = append(rep.Failures, baleen.TestFailure{Name: f, Message: f + " broke\nstack"})
	}
	if s.coverage > 0 {
		c := s.coverage
		rep.Coverage = &c
	}
	now := time.Now().UTC()
	p := baleen.BuildPatch{Status: &s.status, Finished: &now, Report: rep}
	if s.status == baleen.StatusFailed {
		stage, msg := baleen.StageTest, "tests failed"
		p.FailedStage, p.Message = &stage, &msg
	}
	if s.log != "" {
		w, err := st.LogWriter(ctx, b.Project, b.Number)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, s.log)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	b, err = st.UpdateBuild(ctx, b.Project, b.Number, p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// finished is the event the scheduler publishes at b's verdict.
func finished(b baleen.Build) baleen.Event {
	return baleen.Event{Kind: baleen.EventBuildFinished, Project: b.Project, Build: b.Number, Status: b.Status, Record: &b}
}

// startNotifier runs a Notifier on a real bus until the test ends (or stop is called) and returns the bus.
func startNotifier(t *testing.T, o notify.Options) (*notify.Notifier, *events.Bus, func()) {
	t.Helper()
	n, err := notify.New(o)
	if err != nil {
		t.Fatal(err)
	}
	bus := events.New(0)
	ctx, cancel := context.WithCancel(context.Background())
	ch := bus.Subscribe(ctx, notify.Filter)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := n.Run(ctx, ch); err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return n, bus, stop
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitFor polls cond until it holds or 30 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// receiver is a loopback webhook endpoint that checks each request's signature with its secret and fails
// the first `fail` valid attempts with 503.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	fail    int
	bad     int // requests whose signature did not verify
	tries   int
	bodies  []notify.Message
	raw     [][]byte
	headers []http.Header
}

func newReceiver(t *testing.T, secret string, fail int) *receiver {
	r := &receiver{fail: fail}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		ts := req.Header.Get("X-Baleen-Timestamp")
		want := notify.Signature([]byte(secret), ts, body)
		got := req.Header.Get("X-Baleen-Signature-256")
		sec, err := strconv.ParseInt(ts, 10, 64)
		if req.Method != http.MethodPost || !hmac.Equal([]byte(got), []byte(want)) || err != nil || time.Since(time.Unix(sec, 0)) > 5*time.Minute {
			r.bad++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		r.tries++
		if r.tries <= r.fail {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		var m notify.Message
		if err := json.Unmarshal(body, &m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.bodies = append(r.bodies, m)
		r.raw = append(r.raw, body)
		r.headers = append(r.headers, req.Header.Clone())
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) received() []notify.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Message(nil), r.bodies...)
}

// smtpServer runs testdata/smtpd.py (Debian's python3-aiosmtpd) on loopback and returns its address and
// the directory the mails land in.
func smtpServer(t *testing.T, extra ...string) (string, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs an SMTP server")
	}
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import aiosmtpd").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3-aiosmtpd is required when CI is set (scripts/notify-deps.sh): %v", err)
		}
		t.Skipf("python3-aiosmtpd missing, skipping (set CI to make this a failure): %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(py, append([]string{"testdata/smtpd.py", dir}, extra...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	// The server exits when this pipe closes, which happens with this process even if it dies.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("smtpd did not start: %v", err)
	}
	return "127.0.0.1:" + line[:len(line)-1], dir
}

// mails returns the mails received so far, by file name.
func mails(t *testing.T, dir string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}
