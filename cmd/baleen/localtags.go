package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/docker"
)

// untagLocal removes the per-run tags (<image>:baleen-local-XXXXXXXX) a local build gave its images, green
// or not, so that runs do not pile up tags: a green build's images stay as <image>:latest, and the build
// cache keeps the layers of the others for the next run. What it cannot remove it reports to w, once.
func untagLocal(eng *docker.Engine, id baleen.BuildID, s *baleen.Spec, w io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), docker.DefaultCallTimeout)
	defer cancel()
	var errs []error
	for _, img := range s.Build {
		if err := eng.RemoveImage(ctx, id.ImageTag(img.Name)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(w, "warning: the tags of build %s are left: %v\n", id, err)
	}
}
