package retention

import (
	"cmp"
	"fmt"
	"maps"
	"path"
	"slices"
	"time"

	"github.com/baleen-ci/baleen"
)

// Policy is how many builds, and how old, a project keeps. A build is kept when either rule keeps it:
// it is among the KeepBuilds newest builds of its branch, or it is younger than KeepDays days. A rule that
// is 0 keeps nothing by itself; a policy with both at 0 keeps every build.
type Policy struct {
	KeepBuilds int `yaml:"keep_builds"`
	KeepDays   int `yaml:"keep_days"`
}

// Off reports whether p keeps every build.
func (p Policy) Off() bool { return p.KeepBuilds == 0 && p.KeepDays == 0 }

// Rules are a server's retention policy and its per-project overrides, by project name glob
// (path.Match: "shop-*"). A field an override leaves at 0 is the server's.
type Rules struct {
	Policy   `yaml:",inline"`
	Projects map[string]Policy `yaml:"projects"`
}

// Validate checks that no count is negative and that every glob is well formed.
func (r Rules) Validate() error {
	check := func(where string, p Policy) error {
		if p.KeepBuilds < 0 || p.KeepDays < 0 {
			return fmt.Errorf("retention%s: keep_builds and keep_days must not be negative: %w", where, baleen.ErrInvalid)
		}
		return nil
	}
	if err := check("", r.Policy); err != nil {
		return err
	}
	for glob, p := range r.Projects {
		if _, err := path.Match(glob, ""); err != nil {
			return fmt.Errorf("retention.projects: pattern %q: %w: %w", glob, err, baleen.ErrInvalid)
		}
		if err := check(fmt.Sprintf(".projects[%q]", glob), p); err != nil {
			return err
		}
	}
	return nil
}

// For returns the policy of project: the server's, with the fields set by the most specific matching
// override (the longest pattern; among equally long ones, the first by name).
func (r Rules) For(project string) Policy {
	globs := slices.SortedFunc(maps.Keys(r.Projects), func(a, b string) int {
		return cmp.Or(cmp.Compare(len(b), len(a)), cmp.Compare(a, b))
	})
	p := r.Policy
	for _, g := range globs {
		if ok, _ := path.Match(g, project); ok {
			o := r.Projects[g]
			p.KeepBuilds = cmp.Or(o.KeepBuilds, p.KeepBuilds)
			p.KeepDays = cmp.Or(o.KeepDays, p.KeepDays)
			break
		}
	}
	return p
}

// kept returns the builds of one project (newest first, as BuildStore lists them) that p keeps by count
// or by age at now.
func (p Policy) kept(builds []baleen.Build, now time.Time) map[int]bool {
	keep := map[int]bool{}
	perBranch := map[string]int{}
	for _, b := range builds {
		perBranch[b.Branch]++
		switch {
		case p.Off():
			keep[b.Number] = true
		case p.KeepBuilds > 0 && perBranch[b.Branch] <= p.KeepBuilds:
			keep[b.Number] = true
		case p.KeepDays > 0 && now.Sub(b.Created) < time.Duration(p.KeepDays)*24*time.Hour:
			keep[b.Number] = true
		}
	}
	return keep
}
