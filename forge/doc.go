// Package forge lets a project follow a repository hosted elsewhere (GitHub, GitLab, Gitea, Forgejo, or any
// git URL). It sits before the build in the flow: a forge's webhook (Handler, at /hooks/<project>), `ssh HOST
// sync <project>` or a polling interval makes the Follower fetch the followed branches, and every new commit
// builds exactly like a push; the Handler remembers delivery IDs in the store, so a replay builds nothing,
// after a restart too. Statuses reports pending, success or failure back to the forge's commit status API:
// it queues each status in the notifications' delivery queue (package notify), whose worker sends it with
// Statuses.Send and retries it while the forge is down; the build never waits for it.
//
// The `mirrors:` section of the server config is parsed into Mirror values; docs/forges.md describes it.
package forge
