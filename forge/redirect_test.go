package forge_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/events"
	"github.com/baleen-ci/baleen/forge"
)

// A status API that redirects to another host does not get the token sent there: GitLab's PRIVATE-TOKEN is
// a header the HTTP client keeps on a redirect. The attempt fails with the redirect's answer.
func TestStatusRedirectToAnotherHostKeepsTheToken(t *testing.T) {
	var mu sync.Mutex
	var leaked []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		leaked = append(leaked, r.Method+" "+r.URL.Path+" token="+r.Header.Get("PRIVATE-TOKEN"))
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(other.Close)
	target := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(api.Close)

	f := statusFollower(t, "gitlab", "acme/shop-api", api.URL)
	st := statusStore(t, t.TempDir())
	bus := events.New(0)
	runStatuses(t, forge.NewStatuses(f, nil, nil, nil), st, bus, time.Hour)
	b := baleen.Build{Project: "shop-api", Number: 1, Commit: statusCommit, Status: baleen.StatusPassed}
	bus.Publish(baleen.Event{Kind: baleen.EventBuildFinished, Project: b.Project, Build: 1, Record: &b})
	waitFor(t, "the attempt", func() bool {
		ds, _ := st.Deliveries(context.Background(), baleen.DeliveryFilter{Sink: forge.StatusSink})
		return len(ds) == 1 && ds[0].Attempts == 1
	})
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) != 0 {
		t.Errorf("the other host got %q, want no request", leaked)
	}
	ds, _ := st.Deliveries(context.Background(), baleen.DeliveryFilter{Sink: forge.StatusSink})
	if d := ds[0]; d.Status != baleen.DeliveryPending || d.Code != http.StatusTemporaryRedirect || !strings.Contains(d.Error, "redirect") {
		t.Errorf("got %s, code %d, error %q; want pending after a 307 that names the redirect", d.Status, d.Code, d.Error)
	}
}
