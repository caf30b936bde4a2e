package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/baleen-ci/baleen"
)

// errSinkGone: a queued delivery's sink is no longer in the config.
var errSinkGone = fmt.Errorf("sink is no longer configured: %w", ErrNoRetry)

// sender sends one delivery to its sink and returns the HTTP status or SMTP reply code it got, if any.
type sender interface {
	send(ctx context.Context, d baleen.Delivery, m *stored) (int, error)
}

func newSender(s *Sink, c *http.Client) sender {
	switch {
	case s.Webhook != nil:
		return &webhook{name: s.Name, cfg: *s.Webhook, http: c}
	case s.Email != nil:
		return &mailer{cfg: *s.Email}
	case s.Slack != nil:
		return &slack{name: s.Name, cfg: *s.Slack, http: c}
	default:
		return &matrix{name: s.Name, cfg: *s.Matrix, http: c}
	}
}

// Signature is the X-Baleen-Signature-256 value of a webhook body: "sha256=" and the hex HMAC-SHA256, keyed
// with the sink's secret, of the X-Baleen-Timestamp value, a dot, and the body.
func Signature(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

type webhook struct {
	name string
	cfg  WebhookConfig
	http *http.Client
}

func (w *webhook) send(ctx context.Context, d baleen.Delivery, m *stored) (int, error) {
	secret, err := baleen.ReadSecretFile("webhook.secret_file", w.cfg.SecretFile)
	if err != nil {
		return 0, err
	}
	body, err := json.Marshal(m.Message)
	if err != nil {
		return 0, err
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, hideURL(w.name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Baleen")
	req.Header.Set("X-Baleen-Event", m.Event)
	req.Header.Set("X-Baleen-Delivery", strconv.FormatInt(d.ID, 10))
	req.Header.Set("X-Baleen-Timestamp", ts)
	req.Header.Set("X-Baleen-Signature-256", Signature([]byte(secret), ts, body))
	return do(w.http, w.name, req)
}

type slack struct {
	name string
	cfg  SlackConfig
	http *http.Client
}

func (s *slack) send(ctx context.Context, _ baleen.Delivery, m *stored) (int, error) {
	u, err := baleen.ReadSecretFile("slack.url_file", s.cfg.URLFile)
	if err != nil {
		return 0, err
	}
	req, err := jsonRequest(ctx, s.name, http.MethodPost, u, map[string]string{"text": slackEscape.Replace(chatText(&m.Message))})
	if err != nil {
		return 0, err
	}
	return do(s.http, s.name, req)
}

// slackEscape escapes what Slack reads as markup in a message's text (<!channel>, <url|label>), as its
// documentation asks: a branch or a reason is shown as written, never as a mention or a disguised link.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

type matrix struct {
	name string
	cfg  MatrixConfig
	http *http.Client
}

// send PUTs an m.room.message event. The transaction ID is the delivery's, so a retry after a lost reply
// does not post the message twice (the homeserver answers a repeated transaction with the same event).
func (x *matrix) send(ctx context.Context, d baleen.Delivery, m *stored) (int, error) {
	token, err := baleen.ReadSecretFile("matrix.token_file", x.cfg.TokenFile)
	if err != nil {
		return 0, err
	}
	u := strings.TrimSuffix(x.cfg.Homeserver, "/") + "/_matrix/client/v3/rooms/" + url.PathEscape(x.cfg.Room) +
		"/send/m.room.message/baleen-" + strconv.FormatInt(d.ID, 10)
	req, err := jsonRequest(ctx, x.name, http.MethodPut, u, map[string]string{"msgtype": "m.text", "body": chatText(&m.Message)})
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return do(x.http, x.name, req)
}

// jsonRequest makes a request whose body is v in JSON.
func jsonRequest(ctx context.Context, sink, method, u string, v any) (*http.Request, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, hideURL(sink, err)
	}
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}

// do sends req and calls any 2xx a success (Answer).
func do(c *http.Client, sink string, req *http.Request) (int, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, hideURL(sink, err)
	}
	return Answer(sink, resp)
}

// Answer reads what resp, the answer of receiver who, says of an attempt: its status code, and an error
// unless it is a 2xx (wrapping ErrRedirect for a redirect SameOriginRedirects did not follow). It closes
// the body, read (a little of it) only to reuse the connection: it is not recorded, since a receiver may
// echo what it was sent.
func Answer(who string, resp *http.Response) (int, error) {
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 3 {
		return resp.StatusCode, fmt.Errorf("%s answered %s: %w", who, resp.Status, ErrRedirect)
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("%s answered %s", who, resp.Status)
	}
	return resp.StatusCode, nil
}

// hideURL drops the URL from an HTTP client's error: a chat webhook's URL is its secret.
func hideURL(sink string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", strings.ToLower(ue.Op), sink, ue.Err)
	}
	return fmt.Errorf("%s: %s", sink, "request could not be made")
}
