#!/usr/bin/env bash
# Makes sure a Docker engine answers: DOCKER_HOST or /var/run/docker.sock if either does, otherwise installs
# Debian's docker.io and starts dockerd in the background (log in ${BALEEN_DOCKERD_LOG:-/tmp/baleen-dockerd.log}).
# Prints the engine it found or started. Exits non-zero when no engine can be had.
set -euo pipefail

answers() { timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && answers; then
  echo "docker engine: ${DOCKER_HOST:-unix:///var/run/docker.sock} ($(docker version --format '{{.Server.Version}}'))"
  exit 0
fi
if [ -n "${DOCKER_HOST:-}" ]; then
  echo "ensure-docker: DOCKER_HOST=$DOCKER_HOST does not answer" >&2
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "ensure-docker: no Docker engine and not root: install docker.io (sudo apt-get install docker.io) and start it" >&2
    exit 1
  fi
  echo "ensure-docker: installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi

if [ "$(id -u)" != 0 ]; then
  echo "ensure-docker: dockerd is installed but not running; start it (sudo systemctl start docker)" >&2
  exit 1
fi
log=${BALEEN_DOCKERD_LOG:-/tmp/baleen-dockerd.log}
echo "ensure-docker: starting dockerd (log: $log)"
# setsid: the engine outlives this script and the make that ran it.
setsid nohup dockerd >"$log" 2>&1 </dev/null &
for _ in $(seq 1 60); do
  if answers; then
    echo "docker engine: unix:///var/run/docker.sock ($(docker version --format '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 1
done
echo "ensure-docker: dockerd did not answer within 60s; its log:" >&2
tail -n 30 "$log" >&2
exit 1
