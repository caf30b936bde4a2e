package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/notify"
)

// chatServer records the requests a Slack-compatible webhook or a Matrix homeserver receives.
type chatServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []chatRequest
}

type chatRequest struct {
	method, path, auth, contentType string
	body                            map[string]any
}

func newChatServer(t *testing.T) *chatServer {
	c := &chatServer{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(b, &body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.reqs = append(c.reqs, chatRequest{r.Method, r.URL.EscapedPath(), r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body})
		c.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/_matrix/") {
			io.WriteString(w, `{"event_id":"$abc"}`)
		}
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *chatServer) requests() []chatRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]chatRequest(nil), c.reqs...)
}

// Slack gets {"text": ...} at its secret URL; Matrix gets an m.room.message PUT to the room with the access
// token, its transaction ID being the delivery's.
func TestSlackAndMatrix(t *testing.T) {
	st := openStore(t, t.TempDir())
	srv := newChatServer(t)
	slackPath := "/services/T000/B000/XXXXSECRETXXXX"
	sinks := validated(t,
		notify.Sink{Name: "chat", Events: []string{"failed"}, Slack: &notify.SlackConfig{URLFile: writeFile(t, "slack", srv.URL+slackPath)}},
		notify.Sink{Name: "room", Events: []string{"failed"}, Matrix: &notify.MatrixConfig{
			Homeserver: srv.URL, Room: "!room1:example.org", TokenFile: writeFile(t, "token", "syt_token"),
		}},
	)
	_, bus, _ := startNotifier(t, notify.Options{Sinks: sinks, Deliveries: st, History: st, Window: time.Millisecond, Links: links})
	bus.Publish(finished(record(t, st, spec{status: baleen.StatusFailed})))
	waitFor(t, "both messages", func() bool { return len(srv.requests()) == 2 })

	want := "shop-api#1 failed on main (test) https://ci.example.com/shop-api/builds/1"
	var sawSlack, sawMatrix bool
	for _, r := range srv.requests() {
		switch {
		case r.path == slackPath:
			sawSlack = true
			if r.method != http.MethodPost || r.body["text"] != want || r.contentType != "application/json" {
				t.Errorf("slack: got %s %v", r.method, r.body)
			}
		case strings.HasPrefix(r.path, "/_matrix/client/v3/rooms/%21room1:example.org/send/m.room.message/baleen-"):
			sawMatrix = true
			if r.method != http.MethodPut || r.auth != "Bearer syt_token" || r.body["msgtype"] != "m.text" || r.body["body"] != want {
				t.Errorf("matrix: got %s auth %q %v", r.method, r.auth, r.body)
			}
		default:
			t.Errorf("unexpected request %s %s", r.method, r.path)
		}
	}
	if !sawSlack || !sawMatrix {
		t.Errorf("got slack %v, matrix %v; want both", sawSlack, sawMatrix)
	}
}

// A Slack webhook URL is a secret: an unreachable one is recorded without it. (It stops the URL's token
// from reaching `ssh deliveries` through the HTTP client's error, which quotes the URL.)
func TestUnreachableSlackURLIsNotRecorded(t *testing.T) {
	st := openStore(t, t.TempDir())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	url := "http://" + addr + "/services/T000/B000/TOKENTOKEN"
	sinks := validated(t, notify.Sink{Name: "chat", Events: []string{"passed"}, Slack: &notify.SlackConfig{URLFile: writeFile(t, "slack", url)}})
	_, bus, _ := startNotifier(t, notify.Options{Sinks: sinks, Deliveries: st, History: st, Window: time.Millisecond, FirstRetry: time.Hour})
	bus.Publish(finished(record(t, st, spec{status: baleen.StatusPassed})))
	waitFor(t, "the failed attempt", func() bool {
		ds, _ := st.Deliveries(context.Background(), baleen.DeliveryFilter{})
		return len(ds) == 1 && ds[0].Attempts == 1
	})
	ds, _ := st.Deliveries(context.Background(), baleen.DeliveryFilter{})
	if e := ds[0].Error; e == "" || strings.Contains(e, "TOKENTOKEN") {
		t.Errorf("recorded error: got %q, want one without the URL", e)
	}
}

// Slack reads <...> in a message as a link or a mention: a branch named to ping everyone is shown as text.
func TestSlackTextIsEscaped(t *testing.T) {
	st := openStore(t, t.TempDir())
	srv := newChatServer(t)
	sinks := validated(t, notify.Sink{Name: "chat", Events: []string{"failed"}, Slack: &notify.SlackConfig{URLFile: writeFile(t, "slack", srv.URL+"/services/T/B/X")}})
	_, bus, _ := startNotifier(t, notify.Options{Sinks: sinks, Deliveries: st, History: st, Window: time.Millisecond})
	bus.Publish(finished(record(t, st, spec{status: baleen.StatusFailed, branch: "x/<!channel>&<https://evil.example|docs>"})))
	waitFor(t, "the message", func() bool { return len(srv.requests()) == 1 })
	want := "shop-api#1 failed on x/&lt;!channel&gt;&amp;&lt;https://evil.example|docs&gt; (test)"
	if got := srv.requests()[0].body["text"]; got != want {
		t.Errorf("text: got %q, want %q", got, want)
	}
}

// A release's reason of many lines (a health check's output) gives a one-line chat message and mail
// subject: its first line.
func TestMultiLineReasonGivesOneLine(t *testing.T) {
	st := openStore(t, t.TempDir())
	srv := newChatServer(t)
	sinks := validated(t, notify.Sink{Name: "room", Events: []string{"release_failed"}, Matrix: &notify.MatrixConfig{
		Homeserver: srv.URL, Room: "!room1:example.org", TokenFile: writeFile(t, "token", "syt_token")}})
	_, bus, _ := startNotifier(t, notify.Options{Sinks: sinks, Deliveries: st, History: st, Window: time.Millisecond})
	r := baleen.Release{Project: "shop-api", Build: 7, Number: 2, Target: "prod", Status: baleen.StatusFailed,
		Message: "health check failed on b\r\nHTTP 500\nBcc: someone@example.com"}
	bus.Publish(baleen.Event{Kind: baleen.EventReleaseFinished, Project: r.Project, Build: 7, Release: &r})
	waitFor(t, "the message", func() bool { return len(srv.requests()) == 1 })
	want := "shop-api release 2 of build #7 to prod: failed (health check failed on b …)"
	if got := srv.requests()[0].body["body"]; got != want {
		t.Errorf("message: got %q, want %q", got, want)
	}
}
