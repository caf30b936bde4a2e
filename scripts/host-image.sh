#!/usr/bin/env bash
# Builds baleen-test/host:<hash of this script>, the CoreOS-like host the deploy tests start as containers:
# a Debian bookworm root (debootstrap, minbase) with systemd as PID 1, D-Bus, OpenSSH (key-only login), a
# Docker engine of its own (vfs storage driver), sudo (for tests that deploy as a user other than root, as
# Flatcar's core), and socat to forward the test registry into the host.
#
# Cached twice: nothing runs when the tag exists, and the root tarball is kept under
# ${BALEEN_CACHE:-$HOME/.cache/baleen} so a removed image is re-imported without a new debootstrap. The
# packages come from the Debian mirror apt is configured with. Runs unattended (CI=true, no stdin); needs root
# for debootstrap.
set -euo pipefail
cd "$(dirname "$0")/.."

hash=$(sha256sum scripts/host-image.sh | cut -c1-12)
tag="baleen-test/host:$hash"
if docker image inspect "$tag" >/dev/null 2>&1; then
  exit 0
fi

cache="${BALEEN_CACHE:-$HOME/.cache/baleen}"
tarball="$cache/host-$hash.tar"
mkdir -p "$cache"

if [ ! -s "$tarball" ]; then
  if ! command -v debootstrap >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
      echo "host-image: debootstrap is missing: sudo apt-get install debootstrap" >&2
      exit 1
    fi
    echo "host-image: installing debootstrap"
    apt-get update -qq </dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap </dev/null >/dev/null
  fi
  url=$(bash scripts/debian-mirror.sh)
  root=$(mktemp -d "${TMPDIR:-/tmp}/baleen-host.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  echo "host-image: debootstrap bookworm from $url (about a minute)"
  debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,dbus,openssh-server,docker.io,socat,ca-certificates,iproute2,procps,sudo \
    bookworm "$root" "$url" </dev/null >"$cache/debootstrap-$hash.log" 2>&1 || {
      echo "host-image: debootstrap failed; see $cache/debootstrap-$hash.log" >&2
      exit 1
    }

  # Fresh host keys on each container's first boot, never the ones made while building the image.
  rm -f "$root"/etc/ssh/ssh_host_*
  mkdir -p "$root/etc/systemd/system/ssh.service.d"
  cat >"$root/etc/systemd/system/ssh.service.d/baleen.conf" <<'UNIT'
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
UNIT
  cat >"$root/etc/ssh/sshd_config.d/baleen.conf" <<'CONF'
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
CONF
  mkdir -p -m 0700 "$root/root/.ssh"

  # The inner engine stores images on vfs: overlay on overlay does not work inside a container.
  mkdir -p "$root/etc/docker"
  printf '{"storage-driver": "vfs"}\n' >"$root/etc/docker/daemon.json"

  # The test registry reaches the host as 127.0.0.1:PORT, the same reference as outside; the test writes
  # /etc/baleen/registry-forward.env (PORT=..., TARGET=registry:5000) and starts this unit.
  cat >"$root/etc/systemd/system/baleen-registry-forward.service" <<'UNIT'
[Unit]
Description=Forward 127.0.0.1:PORT to the test registry
ConditionPathExists=/etc/baleen/registry-forward.env
After=network.target

[Service]
EnvironmentFile=/etc/baleen/registry-forward.env
ExecStart=/usr/bin/socat TCP-LISTEN:${PORT},bind=127.0.0.1,reuseaddr,fork TCP:${TARGET}
Restart=always

[Install]
WantedBy=multi-user.target
UNIT
  ln -sf /etc/systemd/system/baleen-registry-forward.service \
    "$root/etc/systemd/system/multi-user.target.wants/baleen-registry-forward.service"
  mkdir -p "$root/etc/baleen"

  # What a container has no use for.
  for u in getty@tty1.service console-getty.service systemd-udevd.service systemd-udev-trigger.service \
    systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
    ln -sf /dev/null "$root/etc/systemd/system/$u"
  done
  : >"$root/etc/machine-id"
  echo baleen-host >"$root/etc/hostname"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
    "$root"/usr/share/man/*

  tar -C "$root" --numeric-owner -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
fi

docker import \
  --change 'CMD ["/lib/systemd/systemd"]' \
  --change 'ENV container=docker' \
  --change 'LABEL org.baleen.origin=scripts/host-image.sh' \
  "$tarball" "$tag" >/dev/null
echo "host-image: $tag"
