// Package gitd is Baleen's git remote: an SSH server in front of git's own upload-pack and receive-pack,
// the first step of the flow push -> build -> test -> push image -> deploy.
//
// A person runs `git push ssh://HOST:PORT/<project>.git main`. The Server authenticates the connection by
// public key only (the key the client proved it holds, never a key it merely offered), creates the
// project's bare repository on its first push, and runs `git receive-pack` on it with the SSH channel as
// its standard streams (and GIT_PROTOCOL from the client's env request). git receives and checks the pack
// and calls its proc-receive hook for every ref; the hook (`baleen hook proc-receive`, see RunHook) hands
// its streams to the Server over a unix socket, and the Server hands the ref updates to a Receiver, which
// says per ref whether it may move. The Receiver's output reaches the pusher live, as `remote:` lines. The
// refs that passed then move by compare-and-swap (git update-ref), and the hook tells git, and git the
// client, what happened to each ref. `git clone` and `git fetch` run `git upload-pack`. docs/git.md says
// why proc-receive rather than pre-receive.
//
// A project is named by the repository path git sends: "<project>", "<project>.git", with an optional leading
// "/" or "~/" and an optional trailing "/" (so ssh://HOST:PORT/app.git, HOST:app and ssh://HOST/~/app.git
// all name "app"). The name must pass baleen.ValidateProjectName before anything touches the disk.
// Fetching a project that does not exist fails with "project <name> does not exist" and makes nothing; only
// a push that stores something creates one. What a client reads never names the server's paths (see
// pathScrubber). A signed push's certificate is checked by git, and its verdict and signer reach the
// Receiver as Push.Certificate.
//
// Every ssh command that is not git's own (`ssh -p PORT HOST builds api`) goes, as a baleen.Call, to a
// CommandHandler, which the commands package implements. Every ssh command, git's own too, first checks
// that the caller's key still stands for the connection's identity: a key removed from its file is refused
// on a connection it opened before. There is no shell, no pty, no port or agent forwarding.
//
// The package also reads the stored repositories for the pipeline: Repositories implements
// baleen.Repositories, with pushed trees served as an fs.FS without a checkout (go-git reads the objects
// in-process), and fetches dependency repositories.
package gitd
