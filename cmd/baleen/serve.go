package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/deploy"
	"github.com/baleen-ci/baleen/events"
	"github.com/baleen-ci/baleen/gitd"
	"github.com/baleen-ci/baleen/gitd/commands"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/pipeline/docker"
	"github.com/baleen-ci/baleen/store"
)

func cmdServe(ctx context.Context, args []string, e env) int {
	cfg, err := loadConfig(args, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "baleen serve: %v\n", err)
		return exitUsage
	}
	logger := newLogger(e, cfg.LogLevel)
	if err := serve(ctx, cfg, e, logger); err != nil {
		logger.Error("serve", "err", err)
		if errors.Is(err, baleen.ErrUnavailable) {
			return exitInfra
		}
		return exitFailed
	}
	return exitOK
}

func newLogger(e env, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	if e.getenv("BALEEN_LOG_FORMAT") == "json" {
		return slog.New(slog.NewJSONHandler(e.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(e.stderr, opts))
}

// serve runs the server until ctx ends, then shuts it down: no new connections, running builds get the grace
// period to finish, then are cancelled and cleaned up, and the store is closed.
func serve(ctx context.Context, cfg Config, e env, logger *slog.Logger) (err error) {
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	st, err := store.Open(filepath.Join(cfg.Data, "db"), logger)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer func() { err = errors.Join(err, st.Close()) }()

	eng, err := docker.FromEnv(docker.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer eng.Close()
	if err := eng.Ping(ctx); err != nil {
		// Serve anyway: pushes are stored, and builds fail with this message until the engine answers.
		logger.Error("docker engine unreachable; builds will fail until it answers", "err", err)
	}

	instance, err := instanceID(cfg.Data)
	if err != nil {
		return err
	}
	reposDir := filepath.Join(cfg.Data, "repos")
	base, err := gitd.NewRepositories(reposDir)
	if err != nil {
		return err
	}
	fetch := gitd.FetchConfig{KeyPath: filepath.Join(cfg.Data, "fetch_ed25519_key"), KnownHostsPath: cfg.KnownHosts, HTTP: map[string]gitd.HTTPCredential{}}
	for host, l := range cfg.GitCredentials {
		pw, err := l.password()
		if err != nil {
			return fmt.Errorf("git_credentials.%s: %w", host, err)
		}
		fetch.HTTP[host] = gitd.HTTPCredential{Username: l.Username, Password: pw}
	}
	repos := base.WithFetch(fetch)
	registry := &pipeline.Registry{Images: eng, Auth: cfg.registryAuth(logger)}
	var deployer baleen.Deployer
	if len(cfg.Targets) > 0 {
		targets := map[string]deploy.Target{}
		for name, t := range cfg.Targets {
			targets[name] = deploy.Target{Name: name, User: t.User, Identity: t.Identity, KnownHosts: t.KnownHosts, Hosts: t.Hosts}
		}
		deployer = deploy.New(deploy.Options{Targets: targets, Images: eng, Secret: cfg.secret(e.getenv), Logger: logger, Grace: cfg.DeployGrace})
	}
	sched := pipeline.NewScheduler(pipeline.SchedulerConfig{
		Images: eng, Registry: registry, KeepGreen: cfg.KeepBuilds, Deployer: deployer, Releases: st,
		Pipeline: pipeline.New(eng, logger), Projects: st, Builds: st, Repos: repos,
		ArtifactsDir: filepath.Join(cfg.Data, "artifacts"), Secret: cfg.secret(e.getenv),
		Instance: instance, Concurrency: cfg.Concurrency, Logger: logger,
	})
	if err := sched.Recover(ctx); err != nil {
		logger.Error("recover interrupted builds", "err", err)
	}
	// Notifications, commit statuses and the mirrors' polling (cmd/baleen/notify.go) outlive ctx until the
	// scheduler has shut down. The scheduler publishes no build events yet; until it does, notifications
	// and statuses wait on this bus, while polling mirrors build already.
	integCtx, stopIntegrations := context.WithCancel(context.WithoutCancel(ctx))
	integ, err := startIntegrations(integCtx, cfg, st, repos, reposDir, sched, events.New(0), nil, logger)
	if err != nil {
		stopIntegrations()
		return err
	}
	defer func() { stopIntegrations(); integ.wait() }()
	handler := &commands.Handler{Projects: st, Builds: st, Repos: repos, Scheduler: sched, ArtifactsDir: filepath.Join(cfg.Data, "artifacts"),
		DeployKey: repos.DeployKey, Releases: st, Deployer: deployer}
	srv, err := gitd.New(gitd.Config{
		HostKeyPath:        filepath.Join(cfg.Data, "ssh_host_ed25519_key"),
		AuthorizedKeysPath: cfg.AuthorizedKeys,
		ReposDir:           reposDir,
		Logger:             logger,
		Receiver:           &receiver{sched: sched, projects: st, builds: st, repos: repos, log: logger, pending: map[string][]dependent{}},
		Commands:           commandAdapter{handler},
	})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	logger.Info("baleen serving", "addr", l.Addr().String(), "data", cfg.Data, "authorized_keys", cfg.AuthorizedKeys)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()

	select {
	case err = <-served:
		err = fmt.Errorf("ssh server: %w", err)
	case <-ctx.Done():
		logger.Info("shutting down", "grace", cfg.ShutdownGrace.String())
	}
	grace, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	errs := []error{err}
	// No new connections from here on; the sessions of running pushes stay open so that their pushers see
	// the end of their builds, which get the grace period and are then cancelled and cleaned up.
	closing, cancelClosing := context.WithTimeout(context.Background(), cfg.ShutdownGrace+time.Minute)
	defer cancelClosing()
	sessions := make(chan error, 1)
	go func() { sessions <- srv.Shutdown(closing) }()
	if serr := sched.Shutdown(grace); serr != nil {
		errs = append(errs, serr)
	}
	if serr := <-sessions; serr != nil {
		errs = append(errs, serr, srv.Close())
	}
	return errors.Join(errs...)
}

// instanceID reads the data directory's instance id, making it on first start: 8 hex digits that tell this
// server's Docker objects apart from another server's on the same engine.
func instanceID(data string) (string, error) {
	p := filepath.Join(data, "instance")
	b, err := os.ReadFile(p)
	if err == nil {
		id := strings.TrimSpace(string(b))
		if len(id) == 8 && strings.Trim(id, "0123456789abcdef") == "" {
			return id, nil
		}
		return "", fmt.Errorf("%s: want 8 hex digits, got %q", p, id)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("instance id: %w", err)
	}
	var raw [4]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("instance id: %w", err)
	}
	id := hex.EncodeToString(raw[:])
	if err := os.WriteFile(p, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("instance id: %w", err)
	}
	return id, nil
}

// receiver runs the builds of a push, and after a green push the builds of the projects that depend on
// what it pushed.
type receiver struct {
	sched    *pipeline.Scheduler
	projects baleen.ProjectStore
	builds   baleen.BuildStore
	repos    baleen.Repositories
	log      *slog.Logger
	mu       sync.Mutex
	// pending holds, by project, branch and commit of a green build, the dependents to rebuild once
	// the push has moved the branch.
	pending map[string][]dependent
}

// dependent is a project to rebuild after a dependency's green push.
type dependent struct{ project, branch string }

var (
	_ gitd.Receiver     = (*receiver)(nil)
	_ gitd.PostReceiver = (*receiver)(nil)
)

const zeroID = "0000000000000000000000000000000000000000"

// Receive builds each pushed branch; a branch whose build fails is rejected.
func (r *receiver) Receive(ctx context.Context, p gitd.Push, out io.Writer) []error {
	errs := make([]error, len(p.Updates))
	if err := r.projects.CreateProject(ctx, baleen.Project{Name: p.Project, Created: time.Now().UTC()}); err == nil {
		fmt.Fprintf(out, "created project %s\n", p.Project)
	} else if !errors.Is(err, baleen.ErrExists) {
		for i := range errs {
			errs[i] = fmt.Errorf("record project: %w", err)
		}
		return errs
	}
	for i, u := range p.Updates {
		switch {
		case u.Name == "refs/baleen" || strings.HasPrefix(u.Name, "refs/baleen/"):
			errs[i] = errors.New("refs/baleen/ is reserved for Baleen's own records")
		case u.New == zeroID:
			fmt.Fprintf(out, "%s deleted\n", u.Name)
		case !strings.HasPrefix(u.Name, "refs/heads/"):
			fmt.Fprintf(out, "%s stored; only branches are built\n", u.Name)
		default:
			errs[i] = r.build(ctx, p, u, out)
		}
	}
	return errs
}

func (r *receiver) build(ctx context.Context, p gitd.Push, u gitd.RefUpdate, out io.Writer) error {
	branch := strings.TrimPrefix(u.Name, "refs/heads/")
	b, err := r.sched.Run(ctx, pipeline.Request{Project: p.Project, Branch: branch, Commit: u.New, Pusher: p.Fingerprint, Out: out})
	switch {
	case errors.Is(err, pipeline.ErrNothingToBuild):
		fmt.Fprintf(out, "%s: nothing to build (no baleen.yml)\n", branch)
		return nil
	case err != nil:
		r.log.Error("build", "project", p.Project, "commit", u.New, "key", p.Fingerprint, "err", err)
		return fmt.Errorf("build not run: %v", err)
	case b.Status == baleen.StatusPassed:
		if deps := r.dependents(ctx, p.Project, branch); len(deps) > 0 {
			var names []string
			for _, d := range deps {
				names = append(names, d.project+" ("+d.branch+")")
			}
			fmt.Fprintf(out, "queued once %s moves: rebuild of the projects that depend on it: %s\n", branch, strings.Join(names, ", "))
			r.mu.Lock()
			r.pending[p.Project+"\x00"+u.Name+"\x00"+u.New] = deps
			r.mu.Unlock()
		}
		return nil
	case b.Status == baleen.StatusFailed && b.FailedStage != "":
		return fmt.Errorf("build #%d failed: %s", b.Number, b.FailedStage)
	default:
		return fmt.Errorf("build #%d %s", b.Number, b.Status)
	}
}

// dependents lists the projects whose latest build depended on branch of project and asked to be rebuilt
// when it changes.
func (r *receiver) dependents(ctx context.Context, project, branch string) []dependent {
	ps, err := r.projects.Projects(ctx)
	if err != nil {
		r.log.Error("list projects", "err", err)
		return nil
	}
	var out []dependent
	for _, p := range ps {
		if p.Name == project {
			continue
		}
		// The latest build that read its baleen.yml to the end: a build still queued or resolving has no
		// dependencies recorded yet, and one with a broken baleen.yml says nothing of them.
		recent, err := r.builds.Builds(ctx, baleen.BuildFilter{Project: p.Name, Limit: 10})
		if err != nil {
			continue
		}
		var b baleen.Build
		for _, c := range recent {
			if c.Status.Final() && c.FailedStage != baleen.StageConfig {
				b = c
				break
			}
		}
		if b.Branch == "" {
			continue
		}
		for _, d := range b.Dependencies {
			if d.Project == project && d.Branch == branch && d.RebuildDependents {
				out = append(out, dependent{project: p.Name, branch: b.Branch})
				break
			}
		}
	}
	return out
}

// PostReceive starts the rebuilds of dependents that Receive queued, now that the branch has moved, and
// forgets those of refs that did not move.
func (r *receiver) PostReceive(ctx context.Context, p gitd.Push, moved []gitd.RefUpdate) {
	r.mu.Lock()
	queued := map[string][]dependent{}
	for _, u := range p.Updates {
		key := p.Project + "\x00" + u.Name + "\x00" + u.New
		queued[key] = r.pending[key]
		delete(r.pending, key)
	}
	r.mu.Unlock()
	for _, u := range moved {
		deps := queued[p.Project+"\x00"+u.Name+"\x00"+u.New]
		for _, d := range deps {
			commit, err := r.repos.Resolve(ctx, d.project, "refs/heads/"+d.branch)
			if err != nil {
				r.log.Error("rebuild dependent", "project", d.project, "err", err)
				continue
			}
			go func() {
				b, err := r.sched.Run(context.WithoutCancel(ctx), pipeline.Request{Project: d.project, Branch: d.branch, Commit: commit,
					Pusher: "rebuild after " + p.Project + " " + strings.TrimPrefix(u.Name, "refs/heads/")})
				if err != nil {
					r.log.Error("rebuild dependent", "project", d.project, "err", err)
					return
				}
				r.log.Info("dependent rebuilt", "project", d.project, "build", b.Number, "status", string(b.Status))
			}()
		}
	}
}

// commandAdapter answers gitd's non-git ssh commands with the commands package.
type commandAdapter struct{ h *commands.Handler }

func (a commandAdapter) Command(s gitd.Session) int {
	return a.h.Run(s.Context, &commands.Call{Args: s.Args, Stdin: s.Stdin, Stdout: s.Stdout, Stderr: s.Stderr, Fingerprint: s.Fingerprint})
}
