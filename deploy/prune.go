package deploy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/baleen-ci/baleen/internal/shell"
)

// DefaultKeepImages is how many releases' images a host keeps per unit when Options.KeepImages is 0.
const DefaultKeepImages = 3

// imagesPath is where a host lists the images a unit ran, oldest first, one a line.
func imagesPath(base string) string { return stateDir + "/" + base + ".images" }

// keepImages adds image, the one a unit now runs, to its history (oldest first) and returns the history
// of at most keep images that stays, image last, and the images that fell out of it. An image already in
// the history moves to its end rather than appearing twice.
func keepImages(history []string, image string, keep int) (kept, drop []string) {
	h := slices.DeleteFunc(slices.Clone(history), func(s string) bool { return s == image || s == "" })
	h = append(h, image)
	keep = max(keep, 1)
	if len(h) <= keep {
		return h, nil
	}
	return h[len(h)-keep:], h[:len(h)-keep]
}

// pruneImages runs after a host switched to a release: it records each unit's image in its history and
// removes, with `docker image rm` (never forced, so an image a container still uses stays), the images
// that fell out of every unit's history. A failure is reported on out and leaves the release running.
func (hs *hostSession) pruneImages(ctx context.Context, ps []planned) {
	keep := hs.dp.opts.KeepImages
	if keep < 0 {
		return
	}
	if keep == 0 {
		keep = DefaultKeepImages
	}
	stay := map[string]bool{}
	var drop []string
	for _, p := range ps {
		var cur strings.Builder
		if err := hs.h.run(ctx, fmt.Sprintf("cat %s 2>/dev/null || true", shell.Quote(imagesPath(p.base))), nil, &cur); err != nil {
			printf(hs.out, "deploy: %s: read the images of %s: %v", hs.addr, unitFile(p.base), err)
			return
		}
		kept, dropped := keepImages(strings.Split(strings.TrimSpace(cur.String()), "\n"), p.image, keep)
		if err := hs.writeFile(ctx, imagesPath(p.base), []byte(strings.Join(kept, "\n")+"\n"), 0o644); err != nil {
			printf(hs.out, "deploy: %s: record the images of %s: %v", hs.addr, unitFile(p.base), err)
			return
		}
		for _, img := range kept {
			stay[img] = true
		}
		drop = append(drop, dropped...)
	}
	for _, img := range drop {
		if stay[img] {
			continue
		}
		if err := hs.h.run(ctx, "docker image rm "+shell.Quote(img)+" >/dev/null", nil, nil); err != nil {
			printf(hs.out, "deploy: %s: image %s stays: %v", hs.addr, img, err)
			continue
		}
		printf(hs.out, "deploy: %s: removed image %s (older than the last %d releases)", hs.addr, img, keep)
	}
}
