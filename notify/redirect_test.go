package notify_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/notify"
)

// elsewhere is a loopback server on another host name (localhost, where the sink is at 127.0.0.1) that
// records the Referer and Authorization of each request it gets.
type elsewhere struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func newElsewhere(t *testing.T) *elsewhere {
	e := &elsewhere{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.seen = append(e.seen, r.URL.String()+" referer="+r.Header.Get("Referer")+" auth="+r.Header.Get("Authorization"))
		e.mu.Unlock()
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *elsewhere) url() string { return strings.Replace(e.URL, "127.0.0.1", "localhost", 1) }

func (e *elsewhere) requests() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.seen...)
}

// A chat receiver that redirects to another host does not get the message sent there: the Slack URL (a
// secret) would reach that host in the Referer, the Matrix token in a header a redirect keeps. The attempt
// fails with the redirect's answer, recorded without the URL.
func TestRedirectToAnotherHostIsNotFollowed(t *testing.T) {
	st := openStore(t, t.TempDir())
	other := newElsewhere(t)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.url()+"/landing", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirect.Close)
	sinks := validated(t,
		notify.Sink{Name: "chat", Events: []string{"passed"}, Slack: &notify.SlackConfig{URLFile: writeFile(t, "slack", redirect.URL+"/services/T0/B0/SLACKSECRET")}},
		webhookSink(redirect.URL+"/hook", writeFile(t, "hook", testSecret), "passed"),
	)
	_, bus, _ := startNotifier(t, notify.Options{Sinks: sinks, Deliveries: st, History: st, Window: time.Millisecond, FirstRetry: time.Hour})
	bus.Publish(finished(record(t, st, spec{status: baleen.StatusPassed})))
	waitFor(t, "both attempts", func() bool {
		ds, _ := st.Deliveries(context.Background(), baleen.DeliveryFilter{})
		return len(ds) == 2 && ds[0].Attempts == 1 && ds[1].Attempts == 1
	})
	if got := other.requests(); len(got) != 0 {
		t.Errorf("the other host got %q, want no request", got)
	}
	ds, _ := st.Deliveries(context.Background(), baleen.DeliveryFilter{})
	for _, d := range ds {
		if d.Status != baleen.DeliveryPending || d.Code != http.StatusTemporaryRedirect || !strings.Contains(d.Error, "redirect") || strings.Contains(d.Error, "SLACKSECRET") {
			t.Errorf("%s: got %s, code %d, error %q; want pending after a 307 that names the redirect, without the URL", d.Sink, d.Status, d.Code, d.Error)
		}
	}
}
