package retention

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/baleen-ci/baleen"
)

// DefaultKeepGreen is how many green builds of a project keep their images by default.
const DefaultKeepGreen = 5

// ImageStore is what pruning needs of the engine's images; pipeline/docker's Engine has it. Both methods
// are safe for concurrent use. ListImages is called once per prune, then RemoveImage for each reference
// to drop; removing a reference that is already gone is not an error.
type ImageStore interface {
	// ListImages lists the images that carry label (a "key=value" or a "key").
	ListImages(ctx context.Context, label string) ([]baleen.Image, error)
	// RemoveImage removes the reference ref; the image goes when no reference is left.
	RemoveImage(ctx context.Context, ref string) error
}

// Holds counts, by build id, the builds that run with another build's images (a dependent with its
// dependency's): pruning spares them while held. Its methods are safe for concurrent use.
type Holds struct {
	mu sync.Mutex
	m  map[baleen.BuildID]int
}

// NewHolds returns Holds with nothing held.
func NewHolds() *Holds { return &Holds{m: map[baleen.BuildID]int{}} }

// Hold marks id's images as in use once more.
func (h *Holds) Hold(id baleen.BuildID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.m[id]++
}

// Release undoes one Hold of each id.
func (h *Holds) Release(ids ...baleen.BuildID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		if h.m[id]--; h.m[id] <= 0 {
			delete(h.m, id)
		}
	}
}

// Held reports whether id's images are in use; nothing is held by a nil Holds.
func (h *Holds) Held(id baleen.BuildID) bool {
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.m[id] > 0
}

// Pruner removes the images of a server's builds that are no longer wanted. Prune may run for several
// projects at once; Holds must be the same one the server's builds hold images through.
type Pruner struct {
	Builds baleen.BuildStore
	// Releases, when set, keeps the images of builds that passed releases run.
	Releases baleen.ReleaseStore
	Images   ImageStore
	Holds    *Holds
	// Instance is the server's instance id: only images of its own builds are touched.
	Instance string
	// KeepGreen is how many of a project's latest green builds keep their images; DefaultKeepGreen when
	// 0, and nothing is pruned when negative.
	KeepGreen int
}

// Prune removes the images of project's builds that are neither among its KeepGreen latest green builds,
// nor in use, nor unfinished, nor released: the images every build tags under its own id, and their other
// tags (name:latest excepted). It removes nothing when it cannot read the releases.
func (p *Pruner) Prune(ctx context.Context, project string) error {
	keepN := p.KeepGreen
	if keepN == 0 {
		keepN = DefaultKeepGreen
	}
	if p.Images == nil || keepN < 0 {
		return nil
	}
	keep, err := p.keep(ctx, project, keepN)
	if err != nil {
		return err
	}
	return removeImages(ctx, p.Images, func(id baleen.BuildID) bool {
		base, ok := baseBuild(id, p.Instance)
		return ok && OwnBuild(id, project, p.Instance) && !keep[base] && !p.Holds.Held(id) && !p.Holds.Held(base)
	})
}

// removeImages removes the tags of the images whose build drop says should go: the images every build
// tags under its own id, and their other tags (name:latest excepted).
func removeImages(ctx context.Context, images ImageStore, drop func(baleen.BuildID) bool) error {
	imgs, err := images.ListImages(ctx, baleen.LabelBuild)
	if err != nil {
		return err
	}
	var errs []error
	for _, img := range imgs {
		if !drop(baleen.BuildID(img.Labels[baleen.LabelBuild])) {
			continue
		}
		for _, tag := range img.Tags {
			if baleen.IsLatestTag(tag) {
				continue // the latest tag is the newest green build's, and moves only with one
			}
			if err := images.RemoveImage(ctx, tag); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", tag, err))
			}
		}
	}
	return errors.Join(errs...)
}

// keep lists the builds of project whose images stay: unfinished ones, the keepN latest green ones, and
// those passed releases run.
func (p *Pruner) keep(ctx context.Context, project string, keepN int) (map[baleen.BuildID]bool, error) {
	builds, err := p.Builds.Builds(ctx, baleen.BuildFilter{Project: project})
	if err != nil {
		return nil, err
	}
	keep := map[baleen.BuildID]bool{}
	green := 0
	for _, b := range builds {
		switch {
		case !b.Status.Final():
			keep[b.ID(p.Instance)] = true
		case b.Status == baleen.StatusPassed && green < keepN:
			keep[b.ID(p.Instance)] = true
			green++
		}
	}
	released, err := ReleasedBuilds(ctx, p.Releases, project)
	if err != nil {
		return nil, fmt.Errorf("list releases, pruning nothing: %w", err)
	}
	for _, n := range released {
		keep[(&baleen.Build{Project: project, Number: n}).ID(p.Instance)] = true
	}
	return keep, nil
}

// ReleasedBuilds lists the builds of project that passed releases run (none when releases is nil).
func ReleasedBuilds(ctx context.Context, releases baleen.ReleaseStore, project string) ([]int, error) {
	if releases == nil {
		return nil, nil
	}
	rs, err := releases.Releases(ctx, project, 0)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, r := range rs {
		if r.Status == baleen.StatusPassed {
			out = append(out, r.Build)
		}
	}
	return out, nil
}

// OwnBuild reports whether id names a build of project on the server instance: "<project>-<number>-<instance>",
// or one of its retries on another engine, "<project>-<number>-r<n>-<instance>".
func OwnBuild(id baleen.BuildID, project, instance string) bool {
	p, _, ok := BuildOf(id, instance)
	return ok && p == project
}

// BuildOf reads the project and the number of a build of the server instance from id (a build's own id or
// one of its retries'); ok is false for an id of another instance or of no build.
func BuildOf(id baleen.BuildID, instance string) (project string, number int, ok bool) {
	rest, ok := strings.CutSuffix(string(id), "-"+instance)
	if !ok || instance == "" {
		return "", 0, false
	}
	if i := strings.LastIndexByte(rest, '-'); i >= 0 && isRetry(rest[i+1:]) {
		rest = rest[:i]
	}
	i := strings.LastIndexByte(rest, '-')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(rest[i+1:])
	if err != nil || n < 1 || strconv.Itoa(n) != rest[i+1:] {
		return "", 0, false
	}
	return rest[:i], n, true
}

// isRetry reports whether s is "r<n>", the mark of a retry on another engine in a build id.
func isRetry(s string) bool {
	n, ok := strings.CutPrefix(s, "r")
	_, err := strconv.Atoi(n)
	return ok && err == nil && n != "" && n[0] != '-' && n[0] != '+'
}

// baseBuild is the id of the build that id (its own, or a retry's) belongs to.
func baseBuild(id baleen.BuildID, instance string) (baleen.BuildID, bool) {
	project, n, ok := BuildOf(id, instance)
	if !ok {
		return "", false
	}
	return (&baleen.Build{Project: project, Number: n}).ID(instance), true
}
