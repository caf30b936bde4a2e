package deploy

import (
	"errors"
	"testing"

	"github.com/baleen-ci/baleen"
)

// TestUnitNamesCannotCollide stops two (project, unit) pairs from sharing a unit, its environment file with
// its credentials, its state and its container on a host: under the old "<project>-<unit>" names,
// shop-api/db and shop/api-db were one unit. Every pair of valid names over a small alphabet is tried.
func TestUnitNamesCannotCollide(t *testing.T) {
	if a, b := unitName("shop-api", "db"), unitName("shop", "api-db"); a == b {
		t.Fatalf("shop-api/db and shop/api-db share %s", a)
	}
	var names []string
	var grow func(prefix string)
	grow = func(prefix string) {
		if prefix != "" {
			names = append(names, prefix)
		}
		if len(prefix) == 4 {
			return
		}
		for _, c := range []string{"a", ".", "-", "_"} {
			grow(prefix + c)
		}
	}
	grow("")
	seen := map[string][2]string{}
	pairs := 0
	for _, p := range names {
		if baleen.ValidateProjectName(p) != nil {
			continue
		}
		for _, u := range names {
			if !validUnitName(u) {
				continue
			}
			pairs++
			base := unitName(p, u)
			if other, ok := seen[base]; ok {
				t.Fatalf("%s/%s and %s/%s share %s", p, u, other[0], other[1], base)
			}
			seen[base] = [2]string{p, u}
		}
	}
	if pairs < 1000 {
		t.Fatalf("tried %d pairs, want at least 1000", pairs)
	}
}

// TestUnitNameWithDoubleDotRefused: a unit name holding "..", which sets the project apart in unit names, is
// refused before anything is rendered.
func TestUnitNameWithDoubleDotRefused(t *testing.T) {
	r := baleen.Release{Project: "shop", Number: 1}
	_, err := renderUnit(r, baleen.DeployUnit{Name: "api..db", Image: "app"}, "app:1")
	if !errors.Is(err, baleen.ErrInvalid) {
		t.Errorf("got %v, want ErrInvalid", err)
	}
}
