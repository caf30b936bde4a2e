package forge_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baleen-ci/baleen/forge"
	"github.com/baleen-ci/baleen/gitd"
)

// blockingBuilder stands where the scheduler takes over: its build runs until its context ends.
type blockingBuilder struct{ started, ended atomic.Bool }

func (b *blockingBuilder) Build(ctx context.Context, project, branch, commit string) error {
	b.started.Store(true)
	<-ctx.Done()
	b.ended.Store(true)
	return ctx.Err()
}

// A sync that a webhook started ends when the Follower is stopped: the webhook's request is long answered,
// and the server's shutdown must not wait for a build that nothing can cancel.
func TestStopEndsWebhookSyncs(t *testing.T) {
	bare, _ := upstream(t)
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte(hookSecret), 0o600)
	m := forge.Mirror{URL: bare, Branches: []string{"main"}, WebhookSecretFile: secretFile}
	if err := m.Validate("shop-api"); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	st := statusStore(t, filepath.Join(data, "db"))
	repos, err := gitd.NewRepositories(filepath.Join(data, "repos"))
	if err != nil {
		t.Fatal(err)
	}
	b := &blockingBuilder{}
	f, err := forge.NewFollower(map[string]forge.Mirror{"shop-api": m}, filepath.Join(data, "mirrors.json"), fetcher{repos}, b, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(forge.NewHandler(f, st, nil))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { f.Run(ctx); close(stopped) }()

	body, err := os.ReadFile("testdata/github-push.json")
	if err != nil {
		t.Fatal(err)
	}
	if code := post(t, srv.URL+"/hooks/shop-api", signed("github", hookSecret, "s-1", body), body); code != http.StatusAccepted {
		t.Fatalf("delivery: got %d, want 202", code)
	}
	waitFor(t, "the build to start", b.started.Load)
	cancel()
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return: the webhook's sync was not cancelled")
	}
	if !b.ended.Load() {
		t.Error("the build's context did not end")
	}
}
