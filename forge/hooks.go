package forge

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/baleen-ci/baleen"
)

// maxHookBody bounds a webhook's body (GitHub caps its payloads at 25 MB; a push's is far smaller).
const maxHookBody = 25 << 20

// SeenFor is how long a delivery ID is remembered to refuse a replay of it. The forges sign no timestamp,
// so the ID is what tells a replay; a forge redelivers (by hand) within days, not weeks.
const SeenFor = 72 * time.Hour

// Seen remembers the webhook deliveries that came, on disk so that a restart does not let a replay build
// again. store.Store implements it.
type Seen interface {
	// SeenHookDelivery records delivery id for project, to be remembered for ttl, and reports whether it was
	// recorded already.
	SeenHookDelivery(ctx context.Context, project, id string, ttl time.Duration) (bool, error)
}

// Handler answers the forges' webhooks at /hooks/<project>: it checks the delivery's signature (GitHub's
// X-Hub-Signature-256, GitLab's X-Gitlab-Token, Gitea's and Forgejo's X-Gitea-Signature) with the project's
// webhook secret, refuses a delivery ID it has seen in the last SeenFor, answers 202 at once and syncs the
// project after. A forged or replayed delivery builds nothing and is logged.
type Handler struct {
	f    *Follower
	seen Seen
	log  *slog.Logger
}

// NewHandler returns the webhook handler of f's projects, remembering deliveries in seen; mount it at
// /hooks/.
func NewHandler(f *Follower, seen Seen, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{f: f, seen: seen, log: log}
}

// delivery is what a verified webhook says.
type delivery struct {
	forge, id, event string
	branch           string // from the push's ref; empty for other events
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	project := strings.Trim(strings.TrimPrefix(r.URL.Path, "/hooks/"), "/")
	if r.Method != http.MethodPost {
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	log := h.log.With("project", project, "remote", r.RemoteAddr)
	m, err := h.f.Mirror(project)
	if err != nil || baleen.ValidateProjectName(project) != nil {
		http.Error(w, "no such project follows a repository", http.StatusNotFound)
		return
	}
	if !signed(r.Header) {
		// Refused before the body is read: a stranger cannot make the server hold maxHookBody per request.
		log.Warn("webhook refused: no signature header", "forge", "unknown")
		http.Error(w, "signature does not verify", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHookBody))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "body unreadable", http.StatusBadRequest)
		return
	}
	secret := ""
	if m.WebhookSecretFile != "" {
		secret, err = baleen.ReadSecretFile("webhook_secret_file", m.WebhookSecretFile)
		if err != nil {
			log.Error("webhook refused: no secret to check it with", "err", err)
			http.Error(w, "webhook secret not readable", http.StatusServiceUnavailable)
			return
		}
	}
	d, ok := verify(r.Header, body, secret)
	if !ok {
		log.Warn("webhook refused: signature does not verify", "forge", d.forge, "delivery", d.id)
		http.Error(w, "signature does not verify", http.StatusUnauthorized)
		return
	}
	if d.id != "" {
		replay, err := h.seen.SeenHookDelivery(r.Context(), project, d.id, SeenFor)
		if err != nil {
			log.Error("webhook refused: deliveries seen cannot be read", "delivery", d.id, "err", err)
			http.Error(w, "deliveries seen cannot be read; the forge may retry", http.StatusServiceUnavailable)
			return
		}
		if replay {
			log.Warn("webhook refused: delivery seen before", "forge", d.forge, "delivery", d.id)
			http.Error(w, "delivery seen before", http.StatusConflict)
			return
		}
	}
	if !d.wanted(body, m.Branches) {
		log.Debug("webhook ignored", "forge", d.forge, "event", d.event, "delivery", d.id)
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "ignored\n")
		return
	}
	log.Info("webhook accepted", "forge", d.forge, "event", d.event, "delivery", d.id)
	h.f.Trigger(context.WithoutCancel(r.Context()), project)
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, "sync started\n")
}

// verify checks the delivery's signature by the forge its headers name. A delivery with no secret
// configured, or with none of the known signature headers, does not verify.
func verify(hd http.Header, body []byte, secret string) (delivery, bool) {
	var d delivery
	mac := func(prefix string, got string) bool {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		want := prefix + hex.EncodeToString(m.Sum(nil))
		return secret != "" && hmac.Equal([]byte(strings.ToLower(got)), []byte(want))
	}
	switch {
	case hd.Get("X-Gitea-Signature") != "" || hd.Get("X-Forgejo-Signature") != "":
		d = delivery{forge: "gitea", id: first(hd, "X-Gitea-Delivery", "X-Forgejo-Delivery"), event: first(hd, "X-Gitea-Event", "X-Forgejo-Event")}
		return d, mac("", first(hd, "X-Gitea-Signature", "X-Forgejo-Signature"))
	case hd.Get("X-Hub-Signature-256") != "":
		d = delivery{forge: "github", id: hd.Get("X-GitHub-Delivery"), event: hd.Get("X-GitHub-Event")}
		return d, mac("sha256=", hd.Get("X-Hub-Signature-256"))
	case hd.Get("X-Gitlab-Token") != "":
		d = delivery{forge: "gitlab", id: first(hd, "X-Gitlab-Event-UUID", "Idempotency-Key"), event: hd.Get("X-Gitlab-Event")}
		return d, secret != "" && subtle.ConstantTimeCompare([]byte(hd.Get("X-Gitlab-Token")), []byte(secret)) == 1
	}
	return delivery{forge: "unknown"}, false
}

// sigHeaders are the headers a forge signs (or, GitLab, authenticates) its deliveries with.
var sigHeaders = []string{"X-Gitea-Signature", "X-Forgejo-Signature", "X-Hub-Signature-256", "X-Gitlab-Token"}

// signed reports whether hd carries one of the forges' signature headers.
func signed(hd http.Header) bool {
	return first(hd, sigHeaders...) != ""
}

func first(hd http.Header, keys ...string) string {
	for _, k := range keys {
		if v := hd.Get(k); v != "" {
			return v
		}
	}
	return ""
}

// wanted reports whether a verified delivery is a push to a followed branch (or to any branch when the
// mirror follows the default one, which the fetch resolves).
func (d *delivery) wanted(body []byte, branches []string) bool {
	switch strings.ToLower(d.event) {
	case "push", "push hook":
	default:
		return false
	}
	var p struct {
		Ref string `json:"ref"`
	}
	if json.Unmarshal(body, &p) != nil || !strings.HasPrefix(p.Ref, "refs/heads/") {
		return false
	}
	d.branch = strings.TrimPrefix(p.Ref, "refs/heads/")
	return len(branches) == 0 || slices.Contains(branches, d.branch)
}
