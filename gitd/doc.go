// Package gitd is Baleen's git remote: an SSH server that speaks git, the first step of the flow
// push -> build -> test -> push image -> deploy.
//
// A person runs `git push ssh://HOST:PORT/<project>.git main`. The Server authenticates the connection by
// public key only (the key the client proved it holds, never a key it merely offered), creates the
// project's bare repository on its first push, stores the pushed objects, and hands the ref updates to a
// Receiver, which the pipeline implements: it builds and tests the pushed commits and says, per ref, whether
// the ref may move. The Receiver's output reaches the pusher live, as `remote:` lines. The refs that passed
// then move by compare-and-swap, one push at a time per project, and git's report-status tells the client
// what happened to each ref. `git clone` and `git fetch` are served from the same repositories.
//
// A project is named by the repository path git sends: "<project>", "<project>.git", with an optional leading
// "/" or "~/" (so ssh://HOST:PORT/app.git, HOST:app and ssh://HOST/~/app.git all name "app"). The name must
// pass baleen.ValidateProjectName before anything touches the disk. Fetching a project that does not exist
// fails with "project <name> not found"; only a push creates one.
//
// Every ssh command that is not git's own (`ssh -p PORT HOST builds api`) goes to a CommandHandler, which
// the commands package implements. There is no shell, no pty, no port or agent forwarding.
//
// The package also reads the stored repositories for the pipeline: Repositories implements
// baleen.Repositories, with pushed trees served as an fs.FS without a checkout.
package gitd
