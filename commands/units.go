package commands

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/pipeline/spec"
)

// ReleaseUnits names the units that the baleen.yml of rel's commit deploys, in the order of its deploy section: what `status`
// and `logs --unit` of the ssh commands and the web's releases page read a release's hosts for. A
// baleen.yml that does not parse or has no deploy section is ErrNotFound.
func ReleaseUnits(ctx context.Context, repos baleen.Repositories, project string, rel baleen.Release) ([]string, error) {
	tree, err := repos.Tree(ctx, project, rel.Commit)
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
