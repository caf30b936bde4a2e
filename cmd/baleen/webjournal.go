package main

import (
	"context"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/commands"
)

// webJournals gives the web's releases page the units a release deploys (from the baleen.yml of its
// commit) and their journals, read and masked by the deployer as `ssh logs --unit` reads them.
type webJournals struct {
	baleen.Deployer
	repos baleen.Repositories
}

// Units names the units that the baleen.yml of rel's commit deploys.
func (j webJournals) Units(ctx context.Context, project string, rel baleen.Release) ([]string, error) {
	return commands.ReleaseUnits(ctx, j.repos, project, rel)
}
