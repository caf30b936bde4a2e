package history

import (
	"context"

	"github.com/baleen-ci/baleen"
)

// OfBuild says what the history makes of each test case of build number of project, by name: new, failing
// since, fixed, and flaky as far as is known now (not only when the build ran). It is empty when the history
// kept no run of that build among the project's latest Window.
func OfBuild(ctx context.Context, h baleen.TestHistory, project string, number int) (map[string]Status, error) {
	all, err := h.TestRuns(ctx, project, "", Window)
	if err != nil {
		return nil, err
	}
	out := map[string]Status{}
	flaky := Flaky(all)
	for i, r := range all {
		if r.Number == number {
			for _, s := range Compare(r, all[i+1:]) {
				s.Flaky = flaky[s.Name]
				out[s.Name] = s
			}
			break
		}
	}
	return out, nil
}
