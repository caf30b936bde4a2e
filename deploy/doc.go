// Package deploy is the last stage of the flow push -> build -> test -> push image -> deploy: it turns a
// green build's images into systemd units on CoreOS-family hosts (Flatcar Container Linux), taking the
// place of CoreOS's archived fleet scheduler.
//
// A Deployer reaches each host of a target over SSH (golang.org/x/crypto/ssh, host keys checked against
// the target's known_hosts), or directly for the host "local". On each host it
//
//   - delivers the images: docker pull when the reference names a registry, otherwise docker save on the
//     build engine streamed into docker load over the SSH connection;
//   - writes one unit per deploy unit, /etc/systemd/system/baleen-<project>..<unit>.service, rendered with
//     go-systemd's unit package (the container runs in the foreground under systemd), and a root-only
//     environment file /etc/baleen/baleen-<project>..<unit>.env holding the unit's env and credentials;
//   - talks to systemd over its D-Bus API (go-systemd's dbus package) through systemd-stdio-bridge run in
//     an SSH session: daemon-reload, enable, restart, and waits for the job's result;
//   - checks the unit: it must stay active through a grace period and then pass its health check (an
//     HTTP URL fetched from the host itself through the SSH connection, or a command run on the host);
//   - records what the host runs in /etc/baleen/baleen-<project>..<unit>.release, only once the release
//     passed on every host.
//
// A switch keeps the previous unit, environment and state files as .prev and a marker file until the new
// release passed on every host of the target, so when any host fails every switched host is returned to
// the release it ran before, and one whose switch was cut short (a server restart) is returned to it by
// the next deploy: a host ends on its old or its new release, never without one, and a target is not left
// split between two. docs/deploy.md describes the model for users.
package deploy
