package access

import (
	"context"
	"fmt"
	"strings"

	"github.com/baleen-ci/baleen"
)

// Whoami renders, for `ssh HOST whoami`, who id is and what it may do: the user, its key and e-mail, the
// rules that give it roles in the order they are tried, and its role on each of projects (the projects it
// holds no role on are left out, so that it learns nothing of them).
func (p *Policy) Whoami(ctx context.Context, id baleen.Identity, projects []string) string {
	var b strings.Builder
	st, ok := p.resolve(id.Fingerprint)
	switch {
	case !ok || (st.admin && id.User != id.Fingerprint) || (!st.admin && st.user.Name != id.User):
		fmt.Fprintf(&b, "%s: this key is no longer authorized\n", id.Fingerprint)
		return b.String()
	case st.admin:
		fmt.Fprintf(&b, "key %s, from the authorized keys file\n", id.Fingerprint)
		b.WriteString("admin on every project\n")
	default:
		fmt.Fprintf(&b, "user %s, key %s", id.User, id.Fingerprint)
		if id.Email != "" {
			fmt.Fprintf(&b, ", %s", id.Email)
		}
		b.WriteString("\n")
		p.writeRules(&b, id.User)
	}
	var lines []string
	for _, proj := range projects {
		if r := p.Role(ctx, id, proj); r > baleen.RoleNone {
			lines = append(lines, fmt.Sprintf("  %-30s %s", proj, r))
		}
	}
	if len(lines) > 0 {
		b.WriteString("projects:\n" + strings.Join(lines, "\n") + "\n")
	}
	return b.String()
}

// writeRules lists the rules that name user, in the order they are tried.
func (p *Policy) writeRules(b *strings.Builder, user string) {
	var rules []string
	for _, r := range p.cfg.Rules {
		for _, u := range r.Users {
			if u == user || u == AnyUser {
				rules = append(rules, fmt.Sprintf("  %s on %s", r.Role, strings.Join(r.Projects, ", ")))
				break
			}
		}
	}
	if len(rules) == 0 {
		b.WriteString("no role on any project\n")
		return
	}
	b.WriteString("roles (the first that matches a project decides):\n" + strings.Join(rules, "\n") + "\n")
}
