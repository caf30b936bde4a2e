package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFile is the file in the data directory that one running server holds locked, with its pid in it.
const lockFile = "baleen.pid"

// errAlreadyRunning says another server holds the data directory.
var errAlreadyRunning = errors.New("another Baleen is already running on this data directory")

// lockData takes the data directory for this process, before anything else touches it: an exclusive
// flock(2) on DIR/baleen.pid, which then holds this process's pid. The kernel drops the lock when the process
// ends, however it ends, so a pid left in the file by a crash never blocks the next start. When another
// process holds it, the error names that process: "another Baleen is already running on this data directory
// (pid N)". release unlocks and empties the file.
func lockData(dir string) (release func() error, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			data, _ := os.ReadFile(path)
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(data))); perr == nil {
				return nil, fmt.Errorf("%w (pid %d; data in %s)", errAlreadyRunning, pid, dir)
			}
			return nil, fmt.Errorf("%w (data in %s)", errAlreadyRunning, dir)
		}
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	if err := writePid(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	return func() error {
		return errors.Join(f.Truncate(0), f.Close())
	}, nil
}

func writePid(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// lockedServe runs serve holding the data directory's lock (lockData), so that a second server on the same
// directory stops before it prints or opens anything, naming the first one.
func lockedServe(ctx context.Context, cfg Config, e env, logger *slog.Logger) error {
	release, err := lockData(cfg.Data)
	if err != nil {
		return err
	}
	defer func() {
		if err := release(); err != nil {
			logger.Warn("release the data directory's lock", "err", err)
		}
	}()
	return serve(ctx, cfg, e, logger)
}
