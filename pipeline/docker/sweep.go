package docker

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/moby/moby/client"

	"github.com/baleen-ci/baleen"
)

// LeftoverBuilds lists, sorted, the ids of the builds that still have containers, networks or volumes
// labelled baleen.build on the engine.
func (e *Engine) LeftoverBuilds(ctx context.Context) ([]baleen.BuildID, error) {
	filter := make(client.Filters).Add("label", baleen.LabelBuild)
	seen := make(map[baleen.BuildID]bool)
	containers, err := call(ctx, e, func(ctx context.Context) (client.ContainerListResult, error) {
		return e.client.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	})
	if err != nil {
		return nil, e.fail(err, "list containers of builds")
	}
	for _, c := range containers.Items {
		seen[baleen.BuildID(c.Labels[baleen.LabelBuild])] = true
	}
	networks, err := call(ctx, e, func(ctx context.Context) (client.NetworkListResult, error) {
		return e.client.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	})
	if err != nil {
		return nil, e.fail(err, "list networks of builds")
	}
	for _, n := range networks.Items {
		seen[baleen.BuildID(n.Labels[baleen.LabelBuild])] = true
	}
	volumes, err := call(ctx, e, func(ctx context.Context) (client.VolumeListResult, error) {
		return e.client.VolumeList(ctx, client.VolumeListOptions{Filters: filter})
	})
	if err != nil {
		return nil, e.fail(err, "list volumes of builds")
	}
	for _, v := range volumes.Items {
		seen[baleen.BuildID(v.Labels[baleen.LabelBuild])] = true
	}
	delete(seen, "")
	ids := make([]baleen.BuildID, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// Sweep tears down the leftovers of every build on the engine for which finished reports true (for
// instance: the build's record is final, or the server has no record of it), and of those only. It
// returns the builds it cleared entirely; what it could not remove is in the joined error, to be swept
// again later, until the engine confirms nothing labelled with those builds is left. Sweep is what runs
// after a build whose teardown failed, on a timer, at start-up and when an engine comes back.
func (e *Engine) Sweep(ctx context.Context, finished func(baleen.BuildID) bool) ([]baleen.BuildID, error) {
	ids, err := e.LeftoverBuilds(ctx)
	if err != nil {
		return nil, fmt.Errorf("sweep engine %s: %w", e.name, err)
	}
	var cleared []baleen.BuildID
	var errs []error
	for _, id := range ids {
		if !finished(id) {
			continue
		}
		if err := e.Teardown(ctx, id); err != nil {
			errs = append(errs, err)
			continue
		}
		cleared = append(cleared, id)
		e.log.Info("leftovers removed", "build", id, "host", e.name)
	}
	return cleared, errors.Join(errs...)
}
