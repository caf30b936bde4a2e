package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/api"
	"github.com/baleen-ci/baleen/commands"
	"github.com/baleen-ci/baleen/deploy"
	"github.com/baleen-ci/baleen/events"
	"github.com/baleen-ci/baleen/gitd"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/pipeline/docker"
	"github.com/baleen-ci/baleen/receive"
	"github.com/baleen-ci/baleen/store"
)

func cmdServe(ctx context.Context, args []string, e env) int {
	cfg, err := loadConfig(args, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "baleen serve: %v\n", err)
		return exitUsage
	}
	logger := newLogger(e, cfg.LogLevel)
	if err := lockedServe(ctx, cfg, e, logger); err != nil {
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
	gitVersion, err := gitd.CheckGit(ctx)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the baleen binary for git's hook: %w", err)
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
	policy, err := cfg.accessPolicy(logger)
	if err != nil {
		return err
	}
	fetch := gitd.FetchConfig{KeyPath: filepath.Join(cfg.Data, "fetch_ed25519_key"), KnownHostsPath: cfg.KnownHosts, HTTP: map[string]gitd.HTTPCredential{},
		AllowGitProtocol: cfg.AllowGitProtocol, Scope: policy}
	for host, l := range cfg.GitCredentials {
		pw, err := l.password()
		if err != nil {
			return fmt.Errorf("git_credentials.%s: %w", host, err)
		}
		fetch.HTTP[host] = gitd.HTTPCredential{Username: l.Username, Password: pw}
	}
	repos := base.WithFetch(fetch)
	var sched *pipeline.Scheduler
	engines, err := enginePool(cfg, logger, func(id baleen.BuildID) bool { return sched.Finished(id) })
	if err != nil {
		return err
	}
	defer engines.Close()
	registry := &pipeline.Registry{Images: eng, Auth: cfg.registryAuth(logger)}
	var deployer baleen.Deployer
	if len(cfg.Targets) > 0 {
		targets := map[string]deploy.Target{}
		for name, t := range cfg.Targets {
			targets[name] = deploy.Target{Name: name, User: t.User, Identity: t.Identity, KnownHosts: t.KnownHosts, Hosts: t.Hosts}
		}
		deployer = deploy.New(deploy.Options{Targets: targets, Images: engines.Images(), Secret: cfg.secret(e.getenv), Logger: logger, Grace: cfg.DeployGrace,
			KeepImages: cfg.DeployKeepImages})
	}
	// One bus of build events: the scheduler publishes, and `logs -f`, the web pages, the metrics,
	// notifications and commit statuses subscribe.
	bus := events.New(0)
	defer bus.Close()
	sched = pipeline.NewScheduler(pipeline.SchedulerConfig{
		Events: bus, Engines: engines.Placer(), EngineRetries: cfg.RetryOnEngineFailure,
		Images: engines.Images(), Registry: registry, KeepGreen: cfg.KeepBuilds, Deployer: deployer, Releases: st,
		DeployTargets: slices.Collect(maps.Keys(cfg.Targets)),
		Pipeline:      pipeline.New(eng, logger), Projects: st, Builds: st, Tests: st, Teardowns: st, Repos: repos, LocalSources: cfg.LocalSources,
		ArtifactsDir: filepath.Join(cfg.Data, "artifacts"), Secret: cfg.secret(e.getenv),
		Instance: instance, Concurrency: cfg.Concurrency, Logger: logger, LogLimit: cfg.logLimit(), CredentialScope: policy.CheckCredentials,
		Authz: policy,
	})
	if err := sched.Recover(ctx); err != nil {
		logger.Error("recover interrupted builds", "err", err)
	}
	// Before the git server takes pushes: green builds whose ref move a stop cut short move their branches.
	if err := receive.CompleteRefMoves(ctx, st, st, repos, sched, logger); err != nil {
		logger.Error("complete ref moves", "err", err)
	}
	// Then the rebuilds of dependents that those pushes owe are queued.
	if err := receive.QueueRebuilds(ctx, st, repos, sched, logger); err != nil {
		logger.Error("queue rebuilds of dependents", "err", err)
	}
	go engines.Run(ctx)
	// Notifications, commit statuses and the mirrors' polling (cmd/baleen/notify.go) outlive ctx until the
	// scheduler has shut down.
	integCtx, stopIntegrations := context.WithCancel(context.WithoutCancel(ctx))
	integ, err := startIntegrations(integCtx, cfg, st, repos, reposDir, sched, bus, buildLink(cfg), logger)
	if err != nil {
		stopIntegrations()
		return err
	}
	defer func() { stopIntegrations(); integ.wait() }()
	parts := httpParts{store: st, sched: sched, engine: eng, events: bus, authz: policy, hooks: integ.hooks}
	if deployer != nil {
		parts.journals = webJournals{Deployer: deployer, repos: repos}
	}
	webSrv, stopHTTP, err := startHTTP(cfg, parts, logger)
	if err != nil {
		return err
	}
	handler := &commands.Handler{Projects: st, Builds: st, Repos: repos, Scheduler: sched, ArtifactsDir: filepath.Join(cfg.Data, "artifacts"),
		DeployKey: repos.DeployKey, Releases: st, Deployer: deployer, Authz: policy, Whoami: policy.Whoami,
		Tokens: st, Tests: st, Deliveries: st, Redeliver: integ.redeliver, DockerHost: dockerHost(e.getenv), Mirrors: integ.follower,
		Engines: commands.PoolEngines(engines), Backup: st.Backup}
	if webSrv != nil {
		handler.Web = webSrv
		if err := webSrv.ShowEngines(func() []api.Engine { return commands.EngineStates(engines) }); err != nil {
			return err
		}
	}
	if col := cfg.collector(st, sched, engines.Images(), instance, logger); col != nil {
		handler.GC = col.GC
		go runRetention(ctx, col, logger)
	}
	defer func() { err = errors.Join(err, stopHTTP(context.WithoutCancel(ctx))) }()
	srv, err := gitd.New(gitd.Config{
		HostKeyPath:        filepath.Join(cfg.Data, "ssh_host_ed25519_key"),
		RSAHostKeyPath:     filepath.Join(cfg.Data, "ssh_host_rsa_key"),
		AuthorizedKeysPath: cfg.AuthorizedKeys,
		Keys:               policy,
		Authz:              policy,
		ReposDir:           reposDir,
		Logger:             logger,
		Receiver:           withRefMoveFault(e.getenv, logger, cfg.withSpaceCheck(receive.New(sched, st, st, repos, logger))),
		Commands:           handler,
		Hook:               []string{exe, "hook"},
		MaxReceivePacks:    cfg.MaxPushes,
		GitMemoryLimit:     cfg.GitMemoryLimitMB << 20,
	})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	logger.Info("baleen serving", "addr", l.Addr().String(), "data", cfg.Data, "authorized_keys", cfg.AuthorizedKeys, "git", gitVersion)
	if cfg.AddressFile != "" {
		if err := writeAddress(cfg.AddressFile, l.Addr().String()); err != nil {
			l.Close()
			return err
		}
	}
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

// writeAddress writes addr and a newline to path, whole or not at all: a reader that finds the file finds
// the address.
func writeAddress(path, addr string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(addr+"\n"), 0o644); err != nil {
		return fmt.Errorf("address file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("address file: %w", err)
	}
	return nil
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

// dockerHost is the engine builds run on, as `engines` names it when there is one.
func dockerHost(getenv func(string) string) string {
	if h := getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return "unix:///var/run/docker.sock"
}
