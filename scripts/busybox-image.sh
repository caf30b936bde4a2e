#!/usr/bin/env bash
# Makes sure the engine has a busybox:latest image. Machines without a registry get one built FROM scratch
# from Debian's static busybox (/bin/busybox); an existing busybox:latest is left alone. The examples build
# FROM busybox.
set -euo pipefail
if docker image inspect busybox:latest >/dev/null 2>&1; then exit 0; fi
if docker pull -q busybox:latest >/dev/null 2>&1; then exit 0; fi
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
