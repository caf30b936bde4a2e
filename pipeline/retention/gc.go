package retention

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/baleen-ci/baleen"
)

// BuildDeleter forgets a finished build: its record, its log and its test history (*store.Store has it).
type BuildDeleter interface {
	DeleteBuild(ctx context.Context, project string, number int) error
}

// Collector deletes the builds a server's Rules no longer keep, with their logs, test history, artifacts
// and images. GC may run while builds run; runs of GC itself take turns (the server's timer and the `gc`
// command may ask at once). A Collector must not be copied after first use.
type Collector struct {
	Projects baleen.ProjectStore
	Builds   baleen.BuildStore
	Deleter  BuildDeleter
	// Releases keeps the builds passed releases run (current and rollback-able); required.
	Releases baleen.ReleaseStore
	// Images, when set, loses the images of deleted builds; Holds spares those in use.
	Images ImageStore
	Holds  *Holds
	// Instance is the server's instance id: only images of its own builds are touched.
	Instance string
	// ArtifactsDir holds the builds' artifacts, ArtifactsDir/<project>/<number>; none are removed when "".
	ArtifactsDir string
	Rules        Rules
	// Now is the clock; time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger

	mu sync.Mutex
}

// ref names one build.
type ref struct {
	project string
	number  int
}

func (r ref) String() string { return r.project + "#" + strconv.Itoa(r.number) }

// GC deletes every build the rules do not keep, writing one line per build to w ("removed app#3" or, with
// dryRun, "would remove app#3") and a summary. A build is never deleted while it is queued or running,
// while a passed release ran it, while its images are held, or while a build that stays used it as a
// dependency. Errors deleting one build are reported and the others go on.
func (c *Collector) GC(ctx context.Context, dryRun bool, w io.Writer) error {
	if c.Deleter == nil || c.Releases == nil {
		return errors.New("gc: the collector has no store")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	doomed, err := c.plan(ctx)
	if err != nil {
		return err
	}
	verb := "removed"
	if dryRun {
		verb = "would remove"
	}
	var errs []error
	removed := 0
	gone := map[baleen.BuildID]bool{}
	for _, r := range doomed {
		if !dryRun {
			if err := c.remove(ctx, r); err != nil {
				errs = append(errs, err)
				fmt.Fprintf(w, "could not remove %s: %v\n", r, err)
				continue
			}
			gone[(&baleen.Build{Project: r.project, Number: r.number}).ID(c.Instance)] = true
		}
		fmt.Fprintf(w, "%s %s\n", verb, r)
		removed++
	}
	if len(gone) > 0 && c.Images != nil {
		if err := removeImages(ctx, c.Images, func(id baleen.BuildID) bool {
			base, ok := baseBuild(id, c.Instance)
			return ok && gone[base] && !c.Holds.Held(id)
		}); err != nil {
			errs = append(errs, err)
			fmt.Fprintf(w, "could not remove every image: %v\n", err)
		}
	}
	fmt.Fprintf(w, "%s %d builds\n", verb, removed)
	return errors.Join(errs...)
}

// plan lists the builds GC would delete, by project and number.
func (c *Collector) plan(ctx context.Context) ([]ref, error) {
	projects, err := c.Projects.Projects(ctx)
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	all := map[ref]baleen.Build{}
	keep := map[ref]bool{}
	var order []ref
	for _, p := range projects {
		builds, err := c.Builds.Builds(ctx, baleen.BuildFilter{Project: p.Name})
		if err != nil {
			return nil, fmt.Errorf("gc: %w", err)
		}
		if err := c.protect(ctx, p.Name, builds, now(), keep); err != nil {
			return nil, err
		}
		for _, b := range builds {
			r := ref{b.Project, b.Number}
			all[r] = b
			order = append(order, r)
		}
	}
	keepDependencies(all, keep)
	var doomed []ref
	for _, r := range order {
		if !keep[r] {
			doomed = append(doomed, r)
		}
	}
	return doomed, nil
}

// protect marks in keep the builds of project the rules keep, and those unfinished, released or held.
func (c *Collector) protect(ctx context.Context, project string, builds []baleen.Build, now time.Time, keep map[ref]bool) error {
	for n := range c.Rules.For(project).kept(builds, now) {
		keep[ref{project, n}] = true
	}
	released, err := ReleasedBuilds(ctx, c.Releases, project)
	if err != nil {
		return fmt.Errorf("gc: list releases of %s, deleting nothing: %w", project, err)
	}
	for _, n := range released {
		keep[ref{project, n}] = true
	}
	for _, b := range builds {
		if !b.Status.Final() || c.Holds.Held(b.ID(c.Instance)) {
			keep[ref{project, b.Number}] = true
		}
	}
	return nil
}

// keepDependencies adds to keep the dependency builds of kept builds, and theirs, until none is added.
func keepDependencies(all map[ref]baleen.Build, keep map[ref]bool) {
	queue := make([]ref, 0, len(keep))
	for r := range keep {
		queue = append(queue, r)
	}
	for len(queue) > 0 {
		r := queue[0]
		queue = queue[1:]
		for _, d := range all[r].Dependencies {
			dr := ref{d.Project, d.Build}
			if !keep[dr] {
				keep[dr] = true
				queue = append(queue, dr)
			}
		}
	}
}

// remove deletes one build's artifacts, then its record, log and test history.
func (c *Collector) remove(ctx context.Context, r ref) error {
	if c.ArtifactsDir != "" {
		dir := filepath.Join(c.ArtifactsDir, r.project, strconv.Itoa(r.number))
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("remove artifacts: %w", err)
		}
	}
	if err := c.Deleter.DeleteBuild(ctx, r.project, r.number); err != nil {
		return err
	}
	if c.Logger != nil {
		c.Logger.Info("build removed by retention", "project", r.project, "build", r.number)
	}
	return nil
}
