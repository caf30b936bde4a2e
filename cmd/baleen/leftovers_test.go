package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/docker/dockertest"
	"github.com/moby/moby/client"
)

// removeServerImages removes, once the test ends and its server is stopped, every image the server's
// builds made: those labelled with a build id of its instance (<project>-<number>-<instance>), with all
// their tags, registry references included. A server keeps its green builds' images for reuse, so without
// this each test would leave them behind.
func removeServerImages(s *server) {
	s.t.Cleanup(func() {
		data, err := os.ReadFile(filepath.Join(s.data, "instance"))
		if err != nil {
			return // the server never started
		}
		suffix := "-" + strings.TrimSpace(string(data))
		ctx := context.Background()
		c := s.engine.Client()
		list, err := c.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("label", baleen.LabelBuild)})
		if err != nil {
			s.t.Errorf("list the server's images: %v", err)
			return
		}
		for _, img := range list.Items {
			if !strings.HasSuffix(img.Labels[baleen.LabelBuild], suffix) {
				continue
			}
			if _, err := c.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
				s.t.Errorf("remove image %s %v of the server's build %s: %v", img.ID, img.RepoTags, img.Labels[baleen.LabelBuild], err)
			}
		}
	})
}

// removeLocalBuildImages removes, when the test ends, the images of the local builds (`baleen build`) named
// in out, by their build label: with every tag they got, :latest included.
func removeLocalBuildImages(t *testing.T, out string) {
	e := dockertest.Engine(t)
	t.Cleanup(func() {
		ctx := context.Background()
		for _, m := range buildIDs.FindAllStringSubmatch(out, -1) {
			filter := make(client.Filters).Add("label", baleen.LabelBuild+"="+m[1])
			list, err := e.Client().ImageList(ctx, client.ImageListOptions{Filters: filter})
			if err != nil {
				t.Errorf("list the images of build %s: %v", m[1], err)
				continue
			}
			for _, img := range list.Items {
				if _, err := e.Client().ImageRemove(ctx, img.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
					t.Errorf("remove image %s %v of build %s: %v", img.ID, img.RepoTags, m[1], err)
				}
			}
		}
	})
}
