// Package hosttest starts CoreOS-like hosts for the tests of the deploy stage, the last step of the flow
// push -> build -> test -> push image -> deploy: containers of the image scripts/host-image.sh builds, each
// with systemd as PID 1, D-Bus, sshd (published on 127.0.0.1, key-only root login) and a Docker engine of its
// own, on a network of their own, optionally beside a registry container that the hosts and the outer
// engine reach under one address. It is imported by tests only.
package hosttest
