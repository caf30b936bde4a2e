package baleen

import "strings"

// SeenBy is b as someone sees it who may read the projects mayRead accepts (b's own project among them).
// The dependency builds of other projects are reduced to their names (the keys under depends:, which b's
// own baleen.yml shows): their project, branch, commit and build number are those projects' records. A
// pusher naming another project (PusherSeenBy) no longer names it.
func (b Build) SeenBy(mayRead func(project string) bool) Build {
	b.Pusher = PusherSeenBy(b.Pusher, mayRead)
	if len(b.Dependencies) == 0 {
		return b
	}
	deps := make([]DependencyBuild, len(b.Dependencies))
	for i, d := range b.Dependencies {
		if !mayRead(d.Project) {
			d = DependencyBuild{Name: d.Name}
		}
		deps[i] = d
	}
	b.Dependencies = deps
	return b
}

// UnreadableProject stands for a project's name where its reader may not read it.
const UnreadableProject = "a project you may not read"

// PusherSeenBy is pusher (a build's Pusher, or a release's "push by <pusher>"), unless it names a project
// mayRead refuses: "dependency of X#N" (a dependency's build that X's build started) or "rebuild after X
// B" (a rebuild of dependents after a push to X's branch B), where X becomes UnreadableProject.
func PusherSeenBy(pusher string, mayRead func(project string) bool) string {
	for _, by := range []struct{ marker, cut string }{{"dependency of ", "#"}, {"rebuild after ", " "}} {
		before, rest, ok := strings.Cut(pusher, by.marker)
		if !ok {
			continue
		}
		project, _, _ := strings.Cut(rest, by.cut)
		if !mayRead(project) {
			return before + by.marker + UnreadableProject
		}
	}
	return pusher
}
