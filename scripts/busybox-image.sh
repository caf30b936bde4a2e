#!/usr/bin/env bash
# `make busybox`: makes sure the engine has a busybox:latest image, which the examples and the tests build
# FROM. An existing busybox:latest is left alone; otherwise it is pulled, and on a machine that cannot pull
# it is built FROM scratch from Debian's static busybox (/bin/busybox, installed from busybox-static when
# missing and this is root).
set -euo pipefail
if docker image inspect busybox:latest >/dev/null 2>&1; then
  echo "busybox:latest is there"
  exit 0
fi
if timeout 60 docker pull -q busybox:latest >/dev/null 2>&1; then
  echo "busybox:latest pulled"
  exit 0
fi
if ! [ -x /bin/busybox ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "busybox: cannot pull busybox:latest and /bin/busybox is missing: install busybox-static (sudo apt-get install busybox-static)" >&2
    exit 1
  fi
  echo "busybox: installing Debian's busybox-static"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq busybox-static >/dev/null
fi
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp /bin/busybox "$ctx/busybox"
cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /tmp /etc && chmod 1777 /tmp && echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd && echo 'root:x:0:' > /etc/group
CMD ["sh"]
DOCKERFILE
DOCKER_BUILDKIT=0 docker build -q -t busybox:latest --label org.baleen.origin=debian-busybox-static "$ctx" >/dev/null
echo "busybox:latest built from Debian's busybox-static"
