package commands

import (
	"context"
	"io"
	"strings"

	"github.com/baleen-ci/baleen"
)

// Mirrors are the repositories the server follows (*forge.Follower has it).
type Mirrors interface {
	// Add follows url's branches as project; Remove stops following it.
	Add(project, url string, branches []string) error
	Remove(project string) error
	// WriteList writes the followed repositories to w.
	WriteList(w io.Writer) error
	// Sync fetches project's followed branches now and builds what is new.
	Sync(ctx context.Context, project string) error
}

const mirrorUsage = "mirror add <project> <url> [--branch B...] | mirror list | mirror remove <project>"

// mirror answers `mirror add|list|remove`; admin only.
func (h *Handler) mirror(ctx context.Context, c *baleen.Call, fl *flags) int {
	if h.Mirrors == nil {
		return off(c, "this server follows no repositories")
	}
	args := fl.args
	switch {
	case args[0] == "list" && len(args) == 1:
		if err := h.require(ctx, c, anyProject, baleen.RoleAdmin); err != nil {
			return fail(c, err)
		}
		return done(c, h.Mirrors.WriteList(c.Stdout))
	case args[0] == "remove" && len(args) == 2:
		return h.asAdmin(ctx, c, args[1], func() error { return h.Mirrors.Remove(args[1]) }, "no longer following "+args[1])
	case args[0] == "add" && len(args) >= 3:
		var rest, branches []string
		for i := 1; i < len(args); i++ {
			if b, ok := strings.CutPrefix(strings.TrimLeft(args[i], "-"), "branch"); ok && strings.HasPrefix(args[i], "-") {
				if b = strings.TrimPrefix(b, "="); b == "" && i+1 < len(args) {
					i++
					b = args[i]
				}
				if b == "" {
					return usagef(c, "mirror add: --branch needs a branch name")
				}
				branches = append(branches, b)
				continue
			}
			rest = append(rest, args[i])
		}
		if len(rest) != 2 {
			return usagef(c, "usage: %s", mirrorUsage)
		}
		return h.asAdmin(ctx, c, rest[0], func() error { return h.Mirrors.Add(rest[0], rest[1], branches) }, "following "+rest[1]+" as "+rest[0])
	}
	return usagef(c, "usage: %s", mirrorUsage)
}

// sync answers `sync <project>`; admin only.
func (h *Handler) sync(ctx context.Context, c *baleen.Call, fl *flags) int {
	if h.Mirrors == nil {
		return off(c, "this server follows no repositories")
	}
	return h.asAdmin(ctx, c, fl.args[0], func() error { return h.Mirrors.Sync(ctx, fl.args[0]) }, fl.args[0]+" synced")
}

// asAdmin runs act on project when the caller is its admin and says said when it worked.
func (h *Handler) asAdmin(ctx context.Context, c *baleen.Call, project string, act func() error, said string) int {
	if err := baleen.ValidateProjectName(project); err != nil {
		return usagef(c, "%v", err)
	}
	if err := h.require(ctx, c, project, baleen.RoleAdmin); err != nil {
		return fail(c, err)
	}
	if err := act(); err != nil {
		return fail(c, err)
	}
	printf(c, "%s\n", said)
	return ExitOK
}
