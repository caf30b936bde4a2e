package pipeline

import (
	"context"

	"github.com/baleen-ci/baleen"
)

// actingIdentity is who a build of project acts for: req's identity, or, for a build the server started
// itself, the project's last pusher (LastPusher); the zero identity, which may read nothing, when there is
// none.
func (s *Scheduler) actingIdentity(ctx context.Context, project string, req Request) baleen.Identity {
	if req.Identity != (baleen.Identity{}) {
		return req.Identity
	}
	id, _ := LastPusher(ctx, s.cfg.Builds, project)
	return id
}

// LastPusher is the identity of the user who pushed (or rebuilt) the newest green build of project, read
// back from its record: the one whose push put the branch's content there. Builds the server started
// itself (a mirror's, a dependency's, a dependent's rebuild) record no user and are passed over. The
// identity is only a claim: the Authorizer checks it again (a removed key, or a key now another user's,
// holds no role).
func LastPusher(ctx context.Context, builds baleen.BuildStore, project string) (baleen.Identity, bool) {
	bs, err := builds.Builds(ctx, baleen.BuildFilter{Project: project, Statuses: []baleen.Status{baleen.StatusPassed}})
	if err != nil {
		return baleen.Identity{}, false
	}
	for _, b := range bs {
		if id, ok := baleen.ParsePusher(b.Pusher); ok {
			return id, true
		}
	}
	return baleen.Identity{}, false
}
