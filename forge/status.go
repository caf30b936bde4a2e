package forge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/baleen-ci/baleen"
)

// StatusFilter is the subscription Statuses reads.
var StatusFilter = baleen.EventFilter{Kinds: []baleen.EventKind{baleen.EventBuildStarted, baleen.EventBuildFinished}}

// Statuses reports the builds of followed projects to their forge's commit status API: pending when a
// build starts, success or failure at its verdict, with a link to the build page. A forge that is down
// delays the status (retried with backoff for up to GiveUp), never the build.
type Statuses struct {
	f    *Follower
	http *http.Client
	log  *slog.Logger
	// link returns the build page; nil when the web listener is off.
	link func(project string, build int) string
	// FirstRetry and GiveUp bound the retries of one status (defaults 10s and 1h).
	FirstRetry, GiveUp time.Duration

	mu     sync.Mutex
	queues map[string]chan status // per build, so its statuses reach the forge in order
	wg     sync.WaitGroup
}

// status is one commit status to send.
type status struct {
	m                    Mirror
	commit, state, about string
	project              string
	build                int
}

// NewStatuses returns the reporter of f's projects. link may be nil.
func NewStatuses(f *Follower, client *http.Client, link func(project string, build int) string, log *slog.Logger) *Statuses {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Statuses{f: f, http: client, log: log, link: link, FirstRetry: 10 * time.Second, GiveUp: time.Hour, queues: map[string]chan status{}}
}

// Run sends the statuses of the builds in events (subscribed with StatusFilter) until ctx ends.
func (s *Statuses) Run(ctx context.Context, events <-chan baleen.Event) {
	defer s.wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-events:
			if !ok {
				return
			}
			s.handle(ctx, e)
		}
	}
}

func (s *Statuses) handle(ctx context.Context, e baleen.Event) {
	b := e.Record
	if b == nil {
		return
	}
	m, err := s.f.Mirror(b.Project)
	if err != nil || m.Status == nil {
		return
	}
	st := status{m: m, commit: b.Commit, project: b.Project, build: b.Number}
	final := e.Kind == baleen.EventBuildFinished
	switch {
	case !final:
		st.state, st.about = "pending", fmt.Sprintf("build #%d running", b.Number)
	case b.Status == baleen.StatusPassed:
		st.state, st.about = "success", fmt.Sprintf("build #%d passed", b.Number)
	case b.Status == baleen.StatusFailed:
		st.state, st.about = "failure", fmt.Sprintf("build #%d failed", b.Number)
		if b.FailedStage != "" {
			st.about += " (" + string(b.FailedStage) + ")"
		}
	default:
		st.state, st.about = "error", fmt.Sprintf("build #%d %s", b.Number, b.Status)
	}
	key := fmt.Sprintf("%s#%d", b.Project, b.Number)
	s.mu.Lock()
	q, ok := s.queues[key]
	if !ok {
		q = make(chan status, 2)
		s.queues[key] = q
		s.wg.Add(1)
		go s.drain(ctx, key, q)
	}
	s.mu.Unlock()
	q <- st
	if final {
		close(q)
	}
}

// drain sends one build's statuses in order, each retried until the forge takes it or GiveUp passes.
func (s *Statuses) drain(ctx context.Context, key string, q <-chan status) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.queues, key)
		s.mu.Unlock()
	}()
	for st := range q {
		log := s.log.With("project", st.project, "build", st.build, "commit", st.commit)
		wait, deadline := s.FirstRetry, time.Now().Add(s.GiveUp)
		for {
			err := s.send(ctx, st)
			if err == nil {
				log.Debug("commit status sent", "state", st.state)
				break
			}
			if ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
				log.Warn("commit status given up", "state", st.state, "err", err)
				break
			}
			log.Info("commit status failed, will retry", "state", st.state, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			wait = min(wait*2, 10*time.Minute)
		}
	}
}

// send makes one call to the forge's status API.
func (s *Statuses) send(ctx context.Context, st status) error {
	c := st.m.Status
	token, err := baleen.ReadSecretFile("status.token_file", c.TokenFile)
	if err != nil {
		return err
	}
	link := ""
	if s.link != nil {
		link = s.link(st.project, st.build)
	}
	api := strings.TrimSuffix(c.API, "/")
	var u string
	body := map[string]string{"state": st.state, "description": st.about}
	if link != "" {
		body["target_url"] = link
	}
	hd := http.Header{"Content-Type": {"application/json"}, "User-Agent": {"Baleen"}}
	switch c.Kind {
	case "github":
		u = api + "/repos/" + c.Repo + "/statuses/" + st.commit
		body["context"] = c.Context
		hd.Set("Accept", "application/vnd.github+json")
		hd.Set("X-GitHub-Api-Version", "2022-11-28")
		hd.Set("Authorization", "Bearer "+token)
	case "gitlab":
		u = api + "/projects/" + url.PathEscape(c.Repo) + "/statuses/" + st.commit
		body["name"] = c.Context
		body["state"] = gitlabState(st.state)
		hd.Set("PRIVATE-TOKEN", token)
	default: // gitea, forgejo
		u = api + "/repos/" + c.Repo + "/statuses/" + st.commit
		body["context"] = c.Context
		hd.Set("Authorization", "token "+token)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("status request: %w", err)
	}
	req.Header = hd
	resp, err := s.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("post status to %s: %w", c.Kind, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s", c.Kind, resp.Status)
	}
	return nil
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
