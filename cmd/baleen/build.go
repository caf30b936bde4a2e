package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/gitd"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/pipeline/docker"
)

func cmdBuild(ctx context.Context, args []string, e env) int {
	fl := flag.NewFlagSet("build", flag.ContinueOnError)
	fl.SetOutput(e.stderr)
	artifacts := fl.String("artifacts", "", "where artifacts land (default DIR/.baleen/artifacts)")
	verbose := fl.Bool("v", false, "log the engine's calls to stderr")
	push := fl.Bool("push", false, "push the images as baleen.yml's push section says (anonymously, or with DOCKER_USERNAME and DOCKER_PASSWORD)")
	fl.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: baleen build [-artifacts DIR] [-push] [-v] [DIR]\n\nRuns DIR's baleen.yml pipeline on the local Docker engine (DOCKER_HOST or /var/run/docker.sock).\nCredentials named in baleen.yml are read from the environment.")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return exitUsage
	}
	if fl.NArg() > 1 {
		fl.Usage()
		return exitUsage
	}
	dir := "."
	if fl.NArg() == 1 {
		dir = fl.Arg(0)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		fmt.Fprintf(e.stderr, "baleen build: %s is not a directory\n", dir)
		return exitUsage
	}
	f, err := readSpec(filepath.Join(dir, "baleen.yml"))
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		return exitUsage
	}
	s, tree := f.Spec, os.DirFS(dir)
	if err := f.CheckTree(tree); err != nil {
		fmt.Fprintln(e.stderr, err)
		return exitUsage
	}
	secrets := map[string]string{}
	for _, name := range s.BuildSecrets() {
		v := e.getenv(name)
		if v == "" {
			fmt.Fprintf(e.stderr, "baleen build: credential %s (named in baleen.yml) is not set in the environment\n", name)
			return exitUsage
		}
		secrets[name] = v
	}
	if *artifacts == "" {
		*artifacts = filepath.Join(dir, ".baleen", "artifacts")
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))

	eng, err := docker.FromEnv(docker.Options{Logger: logger})
	if err != nil {
		fmt.Fprintf(e.stderr, "baleen build: %v\n", err)
		return exitInfra
	}
	defer eng.Close()
	if err := eng.Ping(ctx); err != nil { // said once, here, rather than by every stage and the teardown
		fmt.Fprintf(e.stderr, "baleen build: %v\n", err)
		return exitInfra
	}
	id, err := localBuildID()
	if err != nil {
		fmt.Fprintf(e.stderr, "baleen build: %v\n", err)
		return exitInternal
	}
	defer untagLocal(eng, id, s, e.stderr)
	stages := pipeline.NewStageRunner(pipeline.StageConfig{Out: e.stdout, Secrets: values(secrets)})
	defer stages.Close()
	var deps map[string]string
	if pipeline.HasSources(s) {
		repos, err := dependencyCache(e)
		if err != nil {
			fmt.Fprintf(e.stderr, "baleen build: %v\n", err)
			return exitInternal
		}
		// Relative sources are relative to the repository being built.
		abs, _ := filepath.Abs(dir)
		for i, d := range s.Depends {
			if strings.HasPrefix(d.Src, "./") || strings.HasPrefix(d.Src, "../") {
				s.Depends[i].Src = filepath.Join(abs, filepath.FromSlash(d.Src))
			}
		}
		err = stages.Run(ctx, baleen.StageDependencies, func(ctx context.Context) error {
			local := &pipeline.LocalDependencies{Pipeline: pipeline.New(eng, logger), Images: eng, Repos: repos,
				ArtifactsDir: filepath.Join(*artifacts, "dependencies"), Credential: e.getenv, NewID: localBuildID,
				Done: func(id baleen.BuildID, sp *baleen.Spec, out io.Writer) { untagLocal(eng, id, sp, out) }}
			deps, _, err = pipeline.ResolveDependencies(ctx, s, []string{projectOf(dir)}, repos, nil, local.Build(), stages.Out())
			return err
		})
		switch {
		case errors.Is(err, baleen.ErrUnavailable): // the engine, or a dependency's git host
			fmt.Fprintf(stages.Out(), "ERROR: %v\n", err)
			return exitInfra
		case err != nil:
			fmt.Fprintf(stages.Out(), "FAILED: %s\n", baleen.StageDependencies)
			return exitFailed
		}
	}
	var registry *pipeline.Registry
	if *push {
		registry = &pipeline.Registry{Images: eng, Auth: func(host string) *baleen.RegistryAuth {
			if u := e.getenv("DOCKER_USERNAME"); u != "" {
				return &baleen.RegistryAuth{Username: u, Password: e.getenv("DOCKER_PASSWORD"), ServerAddress: host}
			}
			return nil
		}}
	}
	res, err := pipeline.New(eng, logger).Run(ctx, pipeline.Run{
		ID: id, Spec: s, Source: tree, ArtifactsDir: *artifacts, Secrets: secrets, Out: stages.Out(), Dependencies: deps,
		Commit: gitHead(dir), Branch: gitBranch(dir), Registry: registry, Stages: stages,
	})
	switch {
	case errors.Is(err, baleen.ErrUnavailable):
		return exitInfra
	case err != nil:
		fmt.Fprintf(e.stderr, "baleen build: %v\n", err)
		return exitInternal
	case res.Status == baleen.StatusPassed:
		return exitOK
	default:
		return exitFailed
	}
}

// values lists the values of m.
func values(m map[string]string) []string {
	var vs []string
	for _, v := range m {
		vs = append(vs, v)
	}
	return vs
}

// localBuildID names a local build: "local-" and 8 random hex digits.
func localBuildID() (baleen.BuildID, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("build id: %w", err)
	}
	return baleen.BuildID("local-" + hex.EncodeToString(b[:])), nil
}

// dependencyCache is where `baleen build` keeps the repositories it fetches: $BALEEN_CACHE/repos, or
// ~/.cache/baleen/repos. ssh:// sources are fetched with the user's ~/.ssh/id_ed25519 and checked against
// ~/.ssh/known_hosts.
func dependencyCache(e env) (*gitd.Repositories, error) {
	cache := e.getenv("BALEEN_CACHE")
	home, _ := os.UserHomeDir()
	if cache == "" {
		if home == "" {
			return nil, errors.New("no cache directory: set BALEEN_CACHE")
		}
		cache = filepath.Join(home, ".cache", "baleen")
	}
	repos, err := gitd.NewRepositories(filepath.Join(cache, "repos"))
	if err != nil {
		return nil, err
	}
	fc := gitd.FetchConfig{}
	if home != "" {
		if _, err := os.Stat(filepath.Join(home, ".ssh", "id_ed25519")); err == nil {
			fc.KeyPath = filepath.Join(home, ".ssh", "id_ed25519")
		}
		fc.KnownHostsPath = filepath.Join(home, ".ssh", "known_hosts")
	}
	return repos.WithFetch(fc), nil
}

// projectOf names the repository being built after its directory, for cycle messages.
func projectOf(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	if name, err := pipeline.ProjectName(abs); err == nil {
		return name
	}
	return filepath.Base(abs)
}

// gitHead is the commit checked out in dir, for the commit and short push tags; "" outside a git work tree.
func gitHead(dir string) string { return gitOutput(dir, "rev-parse", "HEAD") }

// gitBranch is the branch checked out in dir, for the branch push tag.
func gitBranch(dir string) string { return gitOutput(dir, "rev-parse", "--abbrev-ref", "HEAD") }

func gitOutput(dir string, args ...string) string {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
