#!/usr/bin/env bash
# Makes sure a Docker engine answers: DOCKER_HOST or /var/run/docker.sock if either does, otherwise installs
# Debian's docker.io and starts dockerd in the background (log in ${BALEEN_DOCKERD_LOG:-/tmp/baleen-dockerd.log}).
# A dockerd that is already running but not answering yet is waited for, not doubled; a stale pid file
# (/var/run/docker.pid naming no running dockerd) is removed first. The dockerd it starts is watched: if it
# exits, this script fails at once with its last log lines. Prints the engine it found or started. Exits
# non-zero when no engine can be had.
#
# BALEEN_DOCKERD_WAIT (default 60) is how many seconds a starting dockerd gets to answer;
# BALEEN_DOCKERD_PIDFILE (default /var/run/docker.pid) is the pid file dockerd uses.
#
# To use an engine of your own, set DOCKER_HOST (unix:///path/to/docker.sock, tcp://host:2375) before
# running it; it is then only checked, never started.
set -euo pipefail

pidfile=${BALEEN_DOCKERD_PIDFILE:-/var/run/docker.pid}
log=${BALEEN_DOCKERD_LOG:-/tmp/baleen-dockerd.log}
wait_secs=${BALEEN_DOCKERD_WAIT:-60}

answers() { timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
found() { echo "docker engine: ${DOCKER_HOST:-unix:///var/run/docker.sock} ($(docker version --format '{{.Server.Version}}'))"; }
# is_dockerd PID: the process exists and is a dockerd.
is_dockerd() { [ -n "$1" ] && [ -r "/proc/$1/comm" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = dockerd ]; }

# wait_for PID: polls until the engine answers (exit 0) or the dockerd PID exits (exit 1, with its log) or
# wait_secs pass (exit 1).
wait_for() {
  local pid=$1 i
  for ((i = 0; i < wait_secs * 2; i++)); do
    if answers; then found; exit 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "ensure-docker: dockerd (pid $pid) exited before it answered; the last lines of its log ($log):" >&2
      tail -n 20 "$log" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
  echo "ensure-docker: dockerd (pid $pid) did not answer within ${wait_secs}s; the last lines of its log ($log):" >&2
  tail -n 30 "$log" >&2 || true
  exit 1
}

if command -v docker >/dev/null 2>&1 && answers; then
  found
  exit 0
fi
if [ -n "${DOCKER_HOST:-}" ]; then
  echo "ensure-docker: DOCKER_HOST=$DOCKER_HOST does not answer (unset it to have a local engine started)" >&2
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "ensure-docker: no Docker engine and not root: install docker.io (sudo apt-get install docker.io) and start it, or set DOCKER_HOST to an engine you have" >&2
    exit 1
  fi
  echo "ensure-docker: installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi

if [ "$(id -u)" != 0 ]; then
  echo "ensure-docker: dockerd is installed but not running; start it (sudo systemctl start docker), or set DOCKER_HOST to an engine you have" >&2
  exit 1
fi

if [ -f "$pidfile" ]; then
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if is_dockerd "$pid"; then
    echo "ensure-docker: dockerd is running (pid $pid) but not answering yet; waiting for it"
    wait_for "$pid"
  fi
  echo "ensure-docker: removing the stale $pidfile (pid ${pid:-none} is not a running dockerd)"
  rm -f "$pidfile"
fi

echo "ensure-docker: starting dockerd (log: $log)"
# setsid: the engine outlives this script and the make that ran it.
setsid nohup dockerd >"$log" 2>&1 </dev/null &
wait_for $!
