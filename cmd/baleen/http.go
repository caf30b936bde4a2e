package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/access"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/store"
	"github.com/baleen-ci/baleen/web"
)

// HTTPConfig is the web side's part of the server config (`http:` in the config file, docs/web.md).
type HTTPConfig struct {
	// Listen is the HTTP address ("127.0.0.1:8080"); the web side is off when empty.
	Listen string `yaml:"listen"`
	// Cert and Key are PEM files: with both, the listener speaks HTTPS.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// BaseURL is the address people reach the server at, for sign-in links ("https://ci.example.com").
	BaseURL string `yaml:"base_url"`
	// TrustedProxies are the reverse proxies (addresses or CIDRs) whose X-Forwarded-Proto is believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Public makes every project readable without signing in; PublicProjects some of them.
	Public         bool     `yaml:"public"`
	PublicProjects []string `yaml:"public_projects"`
}

// httpFlags are the serve flags of the web side.
type httpFlags struct{ listen, cert, key *string }

func addHTTPFlags(fl *flag.FlagSet) httpFlags {
	return httpFlags{
		listen: fl.String("http", "", "HTTP listen address of the web pages, API and metrics (env BALEEN_HTTP; off when empty)"),
		cert:   fl.String("http-cert", "", "TLS certificate file for the HTTP listener (env BALEEN_HTTP_CERT)"),
		key:    fl.String("http-key", "", "TLS key file for the HTTP listener (env BALEEN_HTTP_KEY)"),
	}
}

// apply lays the environment, then the flags, over the config file's settings.
func (f httpFlags) apply(c HTTPConfig, e env) HTTPConfig {
	c.Listen = pick(*f.listen, pick(e.getenv("BALEEN_HTTP"), c.Listen))
	c.Cert = pick(*f.cert, pick(e.getenv("BALEEN_HTTP_CERT"), c.Cert))
	c.Key = pick(*f.key, pick(e.getenv("BALEEN_HTTP_KEY"), c.Key))
	return c
}

func (c HTTPConfig) validate() error {
	if (c.Cert == "") != (c.Key == "") {
		return errors.New("http: give both cert and key (--http-cert, --http-key), or neither")
	}
	if c.Listen == "" && (c.Cert != "" || c.Public || len(c.PublicProjects) > 0) {
		return errors.New("http: settings given but no listen address (--http, BALEEN_HTTP or http.listen)")
	}
	return nil
}

// httpParts are what the web side reads and acts on.
type httpParts struct {
	store  *store.Store
	sched  *pipeline.Scheduler
	engine web.Pinger
	events baleen.EventSource
	authz  baleen.Authorizer
	hooks  http.Handler
	// journals, when set, shows the deployed units' journals on the releases page.
	journals web.Journals
}

// url is the web side's address at addr: https when it has a certificate.
func (h HTTPConfig) url(addr string) string {
	if h.Cert != "" {
		return "https://" + addr
	}
	return "http://" + addr
}

// buildLink returns the link to a build's page that notifications and commit statuses carry; nil when
// the web side is off.
func buildLink(cfg Config) func(project string, build int) string {
	if cfg.HTTP.Listen == "" {
		return nil
	}
	base := strings.TrimSuffix(cfg.HTTP.BaseURL, "/")
	if base == "" {
		base = cfg.HTTP.url(cfg.HTTP.Listen)
	}
	return func(project string, build int) string {
		return fmt.Sprintf("%s/p/%s/b/%d", base, url.PathEscape(project), build)
	}
}

// The access policy tells the web which keys were revoked, to end their sessions.
var _ web.KeyChecker = (*access.Policy)(nil)

// startHTTP starts the web side when cfg.HTTP.Listen is set; the returned server (nil when off) mints
// sign-in links for `web-login`, and stop shuts it down within ctx.
func startHTTP(cfg Config, p httpParts, logger *slog.Logger) (*web.Server, func(context.Context) error, error) {
	if cfg.HTTP.Listen == "" {
		return nil, func(context.Context) error { return nil }, nil
	}
	if p.authz == nil {
		p.authz = access.New(access.Options{AuthorizedKeys: cfg.AuthorizedKeys, Logger: logger})
	}
	wc := web.Config{Projects: p.store, Builds: p.store, Releases: p.store, Tests: p.store, Events: p.events, Actions: schedulerActions{p.sched, p.store},
		Authorizer: p.authz, Tokens: p.store, Sessions: p.store, ArtifactsDir: cfg.Data + "/artifacts", Engine: p.engine, StoreSize: p.store.Size,
		Public: cfg.HTTP.Public, PublicProjects: cfg.HTTP.PublicProjects, TrustedProxies: cfg.HTTP.TrustedProxies,
		BaseURL: cfg.HTTP.BaseURL, Hooks: p.hooks, Journals: p.journals, Logger: logger}
	l, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("http listen: %w", err)
	}
	if wc.BaseURL == "" {
		wc.BaseURL = cfg.HTTP.url(l.Addr().String())
	}
	srv, err := web.New(wc)
	if err != nil {
		l.Close()
		return nil, nil, err
	}
	logger.Info("baleen web serving", "addr", l.Addr().String(), "url", cfg.HTTP.url(l.Addr().String()))
	go func() {
		var err error
		if cfg.HTTP.Cert != "" {
			err = srv.ServeTLS(l, cfg.HTTP.Cert, cfg.HTTP.Key)
		} else {
			err = srv.Serve(l)
		}
		if err != nil {
			logger.Error("http server", "err", err)
		}
	}()
	stop := func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return srv.Shutdown(ctx)
	}
	return srv, stop, nil
}

// schedulerActions does the web's actions with the scheduler.
type schedulerActions struct {
	sched  *pipeline.Scheduler
	builds baleen.BuildStore
}

// Rebuild starts the build in the background and waits briefly for its record, to send the browser there.
func (a schedulerActions) Rebuild(ctx context.Context, project string, number int, by string, id baleen.Identity) (int, error) {
	b, err := a.builds.Build(ctx, project, number)
	if err != nil {
		return 0, err
	}
	last, err := a.builds.LatestBuild(ctx, project)
	if err != nil {
		return 0, err
	}
	go func() {
		if _, err := a.sched.Run(context.WithoutCancel(ctx), pipeline.Request{Project: project, Branch: b.Branch, Commit: b.Commit, Pusher: by, Identity: id}); err != nil {
			slog.Default().Error("rebuild", "project", project, "build", number, "err", err)
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if nb, err := a.builds.LatestBuild(ctx, project); err == nil && nb.Number > last.Number {
			return nb.Number, nil
		}
		select {
		case <-ctx.Done():
			return 0, nil
		case <-time.After(50 * time.Millisecond):
		}
	}
	return 0, nil
}

func (a schedulerActions) Cancel(_ context.Context, project string, number int) error {
	return a.sched.Cancel(project, number)
}

func (a schedulerActions) Deploy(ctx context.Context, project string, number int, by string) error {
	go func() {
		if _, err := a.sched.DeployBuild(context.WithoutCancel(ctx), project, number, by, io.Discard); err != nil {
			slog.Default().Error("deploy", "project", project, "build", number, "err", err)
		}
	}()
	return nil
}

func (a schedulerActions) Rollback(ctx context.Context, project string, release int, by string) error {
	go func() {
		if _, err := a.sched.Rollback(context.WithoutCancel(ctx), project, release, by, io.Discard); err != nil {
			slog.Default().Error("rollback", "project", project, "err", err)
		}
	}()
	return nil
}
