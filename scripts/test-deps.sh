#!/usr/bin/env bash
# Installs and starts what the test suite needs on a Debian machine: a Docker engine (and a second one,
# scripts/second-engine.sh, for the engine pool and fault tests), two registries on
# 127.0.0.1 (scripts/registry.sh), the deploy hosts' image (scripts/host-image.sh), Debian's static busybox
# (the test images are built FROM scratch with it), git and OpenSSH's client. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || need+=(busybox-static)
command -v git >/dev/null 2>&1 || need+=(git)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v file >/dev/null 2>&1 || need+=(file)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "test-deps: missing ${need[*]}: install them (sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
  echo "test-deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
bash scripts/ensure-docker.sh
bash scripts/busybox-image.sh
bash scripts/registry.sh
bash scripts/host-image.sh
bash scripts/chromium.sh
bash scripts/second-engine.sh start
bash scripts/notify-deps.sh
