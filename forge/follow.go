package forge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/baleen-ci/baleen"
)

// Fetcher fetches one branch of a repository into a project's own repository and returns the commit at its
// head; the dependency fetch machinery (gitd) implements it, with its keys, credentials and limits.
type Fetcher interface {
	Fetch(ctx context.Context, project, src, branch string) (commit string, err error)
}

// Builder builds a commit of a project exactly like a push (pipeline, dependencies, registry push, deploy,
// records) and returns when the build has ended. The scheduler implements it.
type Builder interface {
	Build(ctx context.Context, project, branch, commit string) error
}

// History reads the builds a project already has, to skip a commit that was built.
type History interface {
	Builds(ctx context.Context, f baleen.BuildFilter) ([]baleen.Build, error)
}

// Pusher is what a followed repository's builds record as their pusher.
const Pusher = "mirror"

// Follower keeps the followed repositories and builds their new commits. Its methods are safe for
// concurrent use.
type Follower struct {
	fetch   Fetcher
	build   Builder
	history History
	log     *slog.Logger
	file    string // where mirrors added with `mirror add` are kept

	mu      sync.Mutex
	config  map[string]Mirror // from the server config; not removable
	added   map[string]Mirror
	running map[string]bool // a sync of the project is running
	again   map[string]bool // another was asked for meanwhile
	wg      sync.WaitGroup
	// stopped ends when Run has been told to stop (stop); it cancels the syncs Trigger started.
	stopped context.Context
	stop    context.CancelFunc
}

// NewFollower returns a Follower of the mirrors of the server config (validated) and of those kept in file
// (DATA/mirrors.json), which `mirror add` and `mirror remove` update.
func NewFollower(config map[string]Mirror, file string, fetch Fetcher, build Builder, history History, log *slog.Logger) (*Follower, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Follower{fetch: fetch, build: build, history: history, log: log, file: file,
		config: maps.Clone(config), added: map[string]Mirror{}, running: map[string]bool{}, again: map[string]bool{}}
	if f.config == nil {
		f.config = map[string]Mirror{}
	}
	f.stopped, f.stop = context.WithCancel(context.Background())
	b, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read mirrors: %w", err)
	}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &f.added); err != nil {
			return nil, fmt.Errorf("read mirrors %s: %w", file, err)
		}
	}
	return f, nil
}

// Mirror returns the mirror of project; baleen.ErrNotFound if the project follows nothing.
func (f *Follower) Mirror(project string) (Mirror, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.config[project]; ok {
		return m, nil
	}
	if m, ok := f.added[project]; ok {
		return m, nil
	}
	return Mirror{}, fmt.Errorf("project %s follows no repository: %w", project, baleen.ErrNotFound)
}

// Add makes project follow url's branches (its default branch when none): `ssh HOST mirror add <project>
// <url> [--branch B...]`. baleen.ErrExists if it follows one already.
func (f *Follower) Add(project, url string, branches []string) error {
	m := Mirror{URL: url, Branches: branches}
	if err := m.Validate(project); err != nil {
		return err
	}
	if onServer(url) {
		return fmt.Errorf("mirrors.%s: url: %s names a path on this server; mirror add follows a repository hosted elsewhere (https://, ssh://, host:path), the server config may name a path: %w",
			project, baleen.RedactURL(url), baleen.ErrInvalid)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.config[project]; ok {
		return fmt.Errorf("project %s follows %s already: %w", project, baleen.RedactURL(f.config[project].URL), baleen.ErrExists)
	}
	if _, ok := f.added[project]; ok {
		return fmt.Errorf("project %s follows %s already: %w", project, baleen.RedactURL(f.added[project].URL), baleen.ErrExists)
	}
	f.added[project] = m
	return f.save()
}

// onServer reports whether url names a repository on the server's own disk (a path or file://), which a
// project's admin must not make its project copy: the data directory holds every project's repository.
func onServer(url string) bool {
	if scheme, _, ok := strings.Cut(url, "://"); ok {
		return strings.EqualFold(scheme, "file")
	}
	host, _, ok := strings.Cut(url, ":")
	return !ok || host == "" || strings.Contains(host, "/") // not scp-like host:path
}

// Remove stops project following its repository: `ssh HOST mirror remove <project>`. Its builds and
// repository stay. A mirror of the server config is removed there, not here.
func (f *Follower) Remove(project string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.config[project]; ok {
		return fmt.Errorf("project %s follows a repository set in the server config: remove it there: %w", project, baleen.ErrConflict)
	}
	if _, ok := f.added[project]; !ok {
		return fmt.Errorf("project %s follows no repository: %w", project, baleen.ErrNotFound)
	}
	delete(f.added, project)
	return f.save()
}

// save writes the added mirrors atomically. f.mu is held.
func (f *Follower) save() error {
	b, err := json.MarshalIndent(f.added, "", "  ")
	if err != nil {
		return err
	}
	tmp := f.file + ".tmp"
	if err := os.MkdirAll(filepath.Dir(f.file), 0o700); err != nil {
		return fmt.Errorf("save mirrors: %w", err)
	}
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("save mirrors: %w", err)
	}
	if err := os.Rename(tmp, f.file); err != nil {
		return fmt.Errorf("save mirrors: %w", err)
	}
	return nil
}

// WriteList writes the followed repositories as a table: `ssh HOST mirror list`. URLs are shown without
// credentials.
func (f *Follower) WriteList(w io.Writer) error {
	f.mu.Lock()
	all := map[string]Mirror{}
	from := map[string]string{}
	for p, m := range f.added {
		all[p], from[p] = m, "mirror add"
	}
	for p, m := range f.config {
		all[p], from[p] = m, "config"
	}
	f.mu.Unlock()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECT\tURL\tBRANCHES\tPOLL\tSTATUS\tFROM")
	for _, p := range slices.Sorted(maps.Keys(all)) {
		m := all[p]
		branches, poll, status := "(default)", "-", "-"
		if len(m.Branches) > 0 {
			branches = fmt.Sprint(m.Branches)
		}
		if m.Poll > 0 {
			poll = m.Poll.String()
		}
		if m.Status != nil {
			status = m.Status.Kind
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p, baleen.RedactURL(m.URL), branches, poll, status, from[p])
	}
	return tw.Flush()
}

// Sync fetches project's followed branches and builds each new head, one after the other, returning when
// they have been built: `ssh HOST sync <project>`. A head already built is not built again.
func (f *Follower) Sync(ctx context.Context, project string) error {
	m, err := f.Mirror(project)
	if err != nil {
		return err
	}
	branches := m.Branches
	if len(branches) == 0 {
		branches = []string{""} // the remote's default branch
	}
	var errs []error
	for _, b := range branches {
		if err := f.syncBranch(ctx, project, m.URL, b); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (f *Follower) syncBranch(ctx context.Context, project, src, branch string) error {
	commit, err := f.fetch.Fetch(ctx, project, src, branch)
	if err != nil {
		return fmt.Errorf("sync %s: %w", project, err)
	}
	if branch == "" {
		branch = "(default)"
	}
	built, err := f.built(ctx, project, commit)
	if err != nil {
		return fmt.Errorf("sync %s: %w", project, err)
	}
	if built {
		f.log.Debug("followed branch unchanged", "project", project, "commit", commit)
		return nil
	}
	f.log.Info("building followed commit", "project", project, "commit", commit)
	if err := f.build.Build(ctx, project, branch, commit); err != nil {
		return fmt.Errorf("build %s at %s: %w", project, commit, err)
	}
	return nil
}

// built reports whether one of project's recent builds is of commit.
func (f *Follower) built(ctx context.Context, project, commit string) (bool, error) {
	bs, err := f.history.Builds(ctx, baleen.BuildFilter{Project: project, Limit: 50})
	if errors.Is(err, baleen.ErrNotFound) {
		return false, nil // a project not made yet: its first fetch makes it
	}
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(bs, func(b baleen.Build) bool { return b.Commit == commit }), nil
}

// Trigger syncs project in the background (a webhook's delivery, a poll) until the sync ends, ctx ends or
// Run stops. While a sync of the project runs, further triggers make one more sync after it, not one each.
func (f *Follower) Trigger(ctx context.Context, project string) {
	f.mu.Lock()
	if f.stopped.Err() != nil {
		f.mu.Unlock()
		return // Run has stopped: a sync would outlive it
	}
	if f.running[project] {
		f.again[project] = true
		f.mu.Unlock()
		return
	}
	f.running[project] = true
	f.wg.Add(1)
	f.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	unhook := context.AfterFunc(f.stopped, cancel)
	go func() {
		defer f.wg.Done()
		defer unhook()
		defer cancel()
		for {
			if err := f.Sync(ctx, project); err != nil {
				f.log.Warn("sync followed repository", "project", project, "err", err)
			}
			f.mu.Lock()
			if !f.again[project] || ctx.Err() != nil {
				delete(f.running, project)
				delete(f.again, project)
				f.mu.Unlock()
				return
			}
			delete(f.again, project)
			f.mu.Unlock()
		}
	}()
}

// Run polls the mirrors that ask for it until ctx ends, then cancels the syncs it and Trigger started and
// waits for them. Call it once; Trigger starts nothing after.
func (f *Follower) Run(ctx context.Context) {
	f.mu.Lock()
	polled := map[string]time.Duration{}
	for p, m := range f.config {
		if m.Poll > 0 {
			polled[p] = m.Poll
		}
	}
	f.mu.Unlock()
	var wg sync.WaitGroup
	for p, every := range polled {
		wg.Go(func() {
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					f.Trigger(ctx, p)
				}
			}
		})
	}
	<-ctx.Done()
	wg.Wait()
	f.mu.Lock()
	f.stop()
	f.mu.Unlock()
	f.wg.Wait()
}
