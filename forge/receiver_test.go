package forge_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/baleen-ci/baleen/notify"
)

// notifyReceiver takes the notification webhooks of the end-to-end test, checking their signature.
type notifyReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	msgs []notify.Message
}

func newNotifyReceiver(t *testing.T) *notifyReceiver {
	r := &notifyReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if req.Header.Get("X-Baleen-Signature-256") != notify.Signature([]byte("sink-secret"), req.Header.Get("X-Baleen-Timestamp"), body) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var m notify.Message
		if err := json.Unmarshal(body, &m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.msgs = append(r.msgs, m)
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *notifyReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

func (r *notifyReceiver) message(i int) notify.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.msgs[i]
}
