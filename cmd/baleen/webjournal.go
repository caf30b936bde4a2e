package main

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/spec"
)

// webJournals gives the web's releases page the units a release deploys (from the baleen.yml of its
// commit) and their journals, read and masked by the deployer as `ssh logs --unit` reads them.
type webJournals struct {
	baleen.Deployer
	repos baleen.Repositories
}

// Units names the units that the baleen.yml of rel's commit deploys.
func (j webJournals) Units(ctx context.Context, project string, rel baleen.Release) ([]string, error) {
	tree, err := j.repos.Tree(ctx, project, rel.Commit)
	if err != nil {
		return nil, err
	}
	data, err := fs.ReadFile(tree, "baleen.yml")
	if err != nil {
		return nil, fmt.Errorf("release #%d: %w", rel.Number, err)
	}
	sp, err := spec.Parse("baleen.yml", data)
	if err != nil || sp.Deploy == nil {
		return nil, fmt.Errorf("the baleen.yml of release #%d deploys no units: %w", rel.Number, baleen.ErrNotFound)
	}
	units := make([]string, 0, len(sp.Deploy.Units))
	for _, u := range sp.Deploy.Units {
		units = append(units, u.Name)
	}
	return units, nil
}
