package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/forge"
	"github.com/baleen-ci/baleen/gitd"
	"github.com/baleen-ci/baleen/notify"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/store"
)

// validateIntegrations checks the notify: and mirrors: sections.
func (c Config) validateIntegrations() error {
	errs := []error{notify.ValidateConfig(c.Notify)}
	for project, m := range c.Mirrors {
		errs = append(errs, m.Validate(project))
	}
	return errors.Join(errs...)
}

// integrations are the notifications and the followed repositories of a running server.
type integrations struct {
	notifier *notify.Notifier
	follower *forge.Follower
	// hooks answers /hooks/<project>; mount it on the HTTP listener.
	hooks *forge.Handler
	wg    sync.WaitGroup
}

// startIntegrations starts the notifier, the commit-status reporter and the mirrors' polling, reading the
// build events from src, until ctx ends; wait returns when they have stopped. link returns a build's web
// page; nil when the web listener is off.
func startIntegrations(ctx context.Context, cfg Config, st *store.Store, repos *gitd.Repositories, reposDir string,
	sched *pipeline.Scheduler, src baleen.EventSource, link func(project string, build int) string, logger *slog.Logger) (*integrations, error) {
	mirrors := map[string]forge.Mirror{}
	for p, m := range cfg.Mirrors {
		if err := m.Validate(p); err != nil { // fills in the status defaults
			return nil, err
		}
		mirrors[p] = m
	}
	var links func(string, int) *notify.Links
	if link != nil {
		links = func(p string, n int) *notify.Links { u := link(p, n); return &notify.Links{Build: u, Log: u + "/log"} }
	}
	f, err := forge.NewFollower(mirrors, filepath.Join(cfg.Data, "mirrors.json"), mirrorFetcher{repos},
		schedulerBuilder{sched: sched, projects: st}, st, logger.With("part", "mirror"))
	if err != nil {
		return nil, err
	}
	// Commit statuses are queued and sent with the notifications: one queue on disk, one retry policy.
	statuses := forge.NewStatuses(f, nil, link, logger.With("part", "status"))
	n, err := notify.New(notify.Options{Sinks: cfg.Notify, Deliveries: st, History: st, Authors: notify.GitAuthors{Dir: reposDir},
		Links: links, Log: logger.With("part", "notify"), Senders: map[string]notify.Sender{forge.StatusSink: statuses}})
	if err != nil {
		return nil, err
	}
	in := &integrations{notifier: n, follower: f, hooks: forge.NewHandler(f, st, logger.With("part", "hooks"))}
	notifyEvents, statusEvents := src.Subscribe(ctx, notify.Filter), src.Subscribe(ctx, forge.StatusFilter)
	in.wg.Go(func() { _ = n.Run(ctx, notifyEvents) })
	in.wg.Go(func() { statuses.Run(ctx, statusEvents, n) })
	in.wg.Go(func() { f.Run(ctx) })
	return in, nil
}

// wait returns when the integrations have stopped (their ctx ended).
func (in *integrations) wait() { in.wg.Wait() }

// mirrorFetcher fetches followed repositories with the dependency fetch machinery.
type mirrorFetcher struct{ repos *gitd.Repositories }

func (m mirrorFetcher) Fetch(ctx context.Context, project, src, branch string) (string, error) {
	_, commit, err := m.repos.Fetch(ctx, []string{project}, project, src, branch) // made for the mirror's project
	return commit, err
}

// schedulerBuilder builds a followed commit exactly like a push, making the project on its first build.
type schedulerBuilder struct {
	sched    *pipeline.Scheduler
	projects baleen.ProjectStore
}

func (s schedulerBuilder) Build(ctx context.Context, project, branch, commit string) error {
	err := s.projects.CreateProject(ctx, baleen.Project{Name: project})
	if err != nil && !errors.Is(err, baleen.ErrExists) {
		return fmt.Errorf("create project %s: %w", project, err)
	}
	_, err = s.sched.Run(ctx, pipeline.Request{Project: project, Branch: branch, Commit: commit, Pusher: forge.Pusher})
	if errors.Is(err, pipeline.ErrNothingToBuild) {
		return nil
	}
	return err
}

// redeliver sends recorded delivery id (a number, as `deliveries` lists it) again.
func (in *integrations) redeliver(ctx context.Context, id string) error {
	n, err := strconv.ParseInt(strings.TrimPrefix(id, "#"), 10, 64)
	if err != nil || n < 1 {
		return fmt.Errorf("delivery %q: want a delivery number as deliveries lists it: %w", id, baleen.ErrInvalid)
	}
	_, err = in.notifier.Redeliver(ctx, n)
	return err
}
