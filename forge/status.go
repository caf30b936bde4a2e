package forge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/notify"
)

// StatusFilter is the subscription Statuses reads.
var StatusFilter = baleen.EventFilter{Kinds: []baleen.EventKind{baleen.EventBuildStarted, baleen.EventBuildFinished}}

// StatusSink names the commit statuses among the deliveries: `ssh HOST deliveries commit-status` lists
// them.
const StatusSink = "commit-status"

// Queue queues a delivery on disk, to be sent and retried with backoff by the Sender registered for its
// sink; notify.Notifier implements it.
type Queue interface {
	Enqueue(ctx context.Context, d baleen.Delivery) (baleen.Delivery, error)
}

// Statuses reports the builds of followed projects to their forge's commit status API: pending when a
// build starts, success or failure at its verdict, with a link to the build page. Each status is queued
// on disk (Run, through a Queue) and sent by the notification worker (Send): a forge that is down, or a
// restart, delays the status, never the build, and loses none. Register it with the Notifier as the
// Sender of StatusSink.
type Statuses struct {
	f    *Follower
	http *http.Client
	log  *slog.Logger
	// link returns the build page; nil when the web listener is off.
	link func(project string, build int) string
}

var _ notify.Sender = (*Statuses)(nil)

// statusMessage is a queued status: the delivery's Message.
type statusMessage struct {
	Commit      string `json:"commit"`
	State       string `json:"state"`
	Description string `json:"description"`
	TargetURL   string `json:"target_url,omitempty"`
}

// NewStatuses returns the reporter of f's projects. link may be nil; client is made safe by notify.HTTPClient (a 30s
// timeout when nil; the token never sent to another host on a redirect).
func NewStatuses(f *Follower, client *http.Client, link func(project string, build int) string, log *slog.Logger) *Statuses {
	client = notify.HTTPClient(client)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Statuses{f: f, http: client, log: log, link: link}
}

// Run queues in q the statuses of the builds in events (subscribed with StatusFilter) until ctx ends or
// events closes.
func (s *Statuses) Run(ctx context.Context, events <-chan baleen.Event, q Queue) {
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-events:
			if !ok {
				return
			}
			s.handle(ctx, e, q)
		}
	}
}

func (s *Statuses) handle(ctx context.Context, e baleen.Event, q Queue) {
	b := e.Record
	if b == nil {
		return
	}
	if m, err := s.f.Mirror(b.Project); err != nil || m.Status == nil {
		return
	}
	msg := statusOf(e.Kind == baleen.EventBuildFinished, b)
	if s.link != nil {
		msg.TargetURL = s.link(b.Project, b.Number)
	}
	body, err := json.Marshal(msg)
	if err == nil {
		_, err = q.Enqueue(ctx, baleen.Delivery{Sink: StatusSink, Event: msg.State, Project: b.Project, Build: b.Number, Message: body})
	}
	if err != nil {
		s.log.Error("queue commit status", "project", b.Project, "build", b.Number, "commit", b.Commit, "err", err)
	}
}

// statusOf is the status of build b: pending until final, then its verdict.
func statusOf(final bool, b *baleen.Build) statusMessage {
	st := statusMessage{Commit: b.Commit}
	switch {
	case !final:
		st.State, st.Description = "pending", fmt.Sprintf("build #%d running", b.Number)
	case b.Status == baleen.StatusPassed:
		st.State, st.Description = "success", fmt.Sprintf("build #%d passed", b.Number)
	case b.Status == baleen.StatusFailed:
		st.State, st.Description = "failure", fmt.Sprintf("build #%d failed", b.Number)
		if b.FailedStage != "" {
			st.Description += " (" + string(b.FailedStage) + ")"
		}
	default:
		st.State, st.Description = "error", fmt.Sprintf("build #%d %s", b.Number, b.Status)
	}
	return st
}

// Send makes one call to the forge's status API for a queued status, with the project's status settings
// and token as they are now. A project that no longer reports statuses gives the status up.
func (s *Statuses) Send(ctx context.Context, d baleen.Delivery) (int, error) {
	m, err := s.f.Mirror(d.Project)
	if err != nil || m.Status == nil {
		return 0, fmt.Errorf("%s reports no commit status any more: %w", d.Project, notify.ErrNoRetry)
	}
	var st statusMessage
	if err := json.Unmarshal(d.Message, &st); err != nil {
		return 0, fmt.Errorf("queued status %d: %w: %w", d.ID, err, notify.ErrNoRetry)
	}
	return s.send(ctx, *m.Status, st)
}

// send makes one call to the forge's status API and returns the HTTP status it answered.
func (s *Statuses) send(ctx context.Context, c StatusConfig, st statusMessage) (int, error) {
	token, err := baleen.ReadSecretFile("status.token_file", c.TokenFile)
	if err != nil {
		return 0, err
	}
	u, hd, body := statusRequest(c, token, st)
	b, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return 0, fmt.Errorf("status request: %w", err)
	}
	req.Header = hd
	resp, err := s.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("post status to %s: %w", c.Kind, err)
	}
	return notify.Answer(c.Kind, resp)
}

// statusRequest is the URL, headers and body of a status call, as each forge documents them.
func statusRequest(c StatusConfig, token string, st statusMessage) (string, http.Header, map[string]string) {
	api := strings.TrimSuffix(c.API, "/")
	body := map[string]string{"state": st.State, "description": st.Description}
	if st.TargetURL != "" {
		body["target_url"] = st.TargetURL
	}
	hd := http.Header{"Content-Type": {"application/json"}, "User-Agent": {"Baleen"}}
	switch c.Kind {
	case "github":
		body["context"] = c.Context
		hd.Set("Accept", "application/vnd.github+json")
		hd.Set("X-GitHub-Api-Version", "2022-11-28")
		hd.Set("Authorization", "Bearer "+token)
		return api + "/repos/" + c.Repo + "/statuses/" + st.Commit, hd, body
	case "gitlab":
		body["name"] = c.Context
		body["state"] = gitlabState(st.State)
		hd.Set("PRIVATE-TOKEN", token)
		return api + "/projects/" + url.PathEscape(c.Repo) + "/statuses/" + st.Commit, hd, body
	}
	// gitea, forgejo
	body["context"] = c.Context
	hd.Set("Authorization", "token "+token)
	return api + "/repos/" + c.Repo + "/statuses/" + st.Commit, hd, body
}

// gitlabState maps a status to GitLab's words: failed for a red build, canceled for one that did not end
// in a verdict.
func gitlabState(state string) string {
	switch state {
	case "failure":
		return "failed"
	case "error":
		return "canceled"
	}
	return state
}
