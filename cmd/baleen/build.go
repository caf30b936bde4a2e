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
	"path/filepath"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline"
	"github.com/baleen-ci/baleen/pipeline/docker"
	"github.com/baleen-ci/baleen/pipeline/spec"
)

func cmdValidate(args []string, e env) int {
	fl := flag.NewFlagSet("validate", flag.ContinueOnError)
	fl.SetOutput(e.stderr)
	fl.Usage = func() { fmt.Fprintln(e.stderr, "usage: baleen validate [FILE]   (FILE defaults to ./baleen.yml)") }
	if err := fl.Parse(args); err != nil {
		return exitUsage
	}
	if fl.NArg() > 1 {
		fl.Usage()
		return exitUsage
	}
	file := "baleen.yml"
	if fl.NArg() == 1 {
		file = fl.Arg(0)
	}
	if _, err := readSpec(file); err != nil {
		fmt.Fprintln(e.stderr, err)
		return exitUsage
	}
	fmt.Fprintf(e.stdout, "%s: valid\n", file)
	return exitOK
}

// readSpec reads and parses a baleen.yml; its errors are ready to print.
func readSpec(file string) (*spec.File, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("baleen: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, spec.MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("baleen: read %s: %w", file, err)
	}
	return spec.ParseFile(file, data)
}

func cmdBuild(ctx context.Context, args []string, e env) int {
	fl := flag.NewFlagSet("build", flag.ContinueOnError)
	fl.SetOutput(e.stderr)
	artifacts := fl.String("artifacts", "", "where artifacts land (default DIR/.baleen/artifacts)")
	verbose := fl.Bool("v", false, "log the engine's calls to stderr")
	fl.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: baleen build [-artifacts DIR] [-v] [DIR]\n\nRuns DIR's baleen.yml pipeline on the local Docker engine (DOCKER_HOST or /var/run/docker.sock).\nCredentials named in baleen.yml are read from the environment.")
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
	for _, name := range s.Credentials {
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
	id, err := localBuildID()
	if err != nil {
		fmt.Fprintf(e.stderr, "baleen build: %v\n", err)
		return exitInternal
	}
	res, err := pipeline.New(eng, logger).Run(ctx, pipeline.Run{
		ID: id, Spec: s, Source: tree, ArtifactsDir: *artifacts, Secrets: secrets, Out: e.stdout,
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

// localBuildID names a local build: "local-" and 8 random hex digits.
func localBuildID() (baleen.BuildID, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("build id: %w", err)
	}
	return baleen.BuildID("local-" + hex.EncodeToString(b[:])), nil
}
