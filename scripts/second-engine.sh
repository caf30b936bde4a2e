#!/usr/bin/env bash
# A second Docker engine beside the first, for the tests of engine pools and engine faults.
#
#   second-engine.sh start   start it (idempotent) and load busybox:latest into it; prints its address
#   second-engine.sh stop    remove its containers, stop it and its containerd, unmount and delete its state
#   second-engine.sh kill    kill -9 its dockerd only, as a crash would (start brings it back)
#   second-engine.sh address print its address (unix:///run/baleen-docker2/docker.sock)
#
# It has everything of its own: data root, exec root, pid file, socket, a bridge (br-baleen2, 172.31.250.1/24)
# and an address pool (10.213.0.0/16) that does not overlap the first engine's, no iptables rules, and
# --live-restore, without which its restarts would delete the first engine's docker0.
# Tests find it through BALEEN_TEST_DOCKER2 (its address), or at the default address when that is unset.
set -euo pipefail

root=${BALEEN_DOCKER2_ROOT:-/var/lib/baleen-docker2}
run=${BALEEN_DOCKER2_RUN:-/run/baleen-docker2}
bridge=br-baleen2
sock=$run/docker.sock
pidfile=$run/docker.pid
log=$run/dockerd.log
export DOCKER_HOST=unix://$sock

answers() { timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
dockerd_pid() { cat "$pidfile" 2>/dev/null || true; }
# The containerd this engine started writes its pid under the exec root.
containerd_pid() { cat "$run/exec/containerd/containerd.pid" 2>/dev/null || true; }

# wait_gone PID SECONDS waits until the process has exited; returns 1 if it has not.
wait_gone() {
  for _ in $(seq 1 "$(($2 * 5))"); do
    alive "$1" || return 0
    sleep 0.2
  done
  return 1
}

make_bridge() {
  if ! ip link show "$bridge" >/dev/null 2>&1; then
    ip link add "$bridge" type bridge
    ip addr add 172.31.250.1/24 dev "$bridge"
  fi
  ip link set "$bridge" up
}

start() {
  if answers; then
    echo "second engine: $DOCKER_HOST ($(docker version --format '{{.Server.Version}}'))"
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "second-engine: must run as root to start a dockerd" >&2
    exit 1
  fi
  command -v dockerd >/dev/null 2>&1 || { echo "second-engine: dockerd is not installed (scripts/ensure-docker.sh)" >&2; exit 1; }
  # A dockerd killed with -9 leaves its containerd running, and a new dockerd on the same roots waits for
  # it until it times out: stop it first.
  local c
  c=$(containerd_pid)
  if ! alive "$(dockerd_pid)" && alive "$c"; then
    kill -TERM "$c"
    wait_gone "$c" 20 || kill -KILL "$c"
  fi
  mkdir -p "$root" "$run"
  make_bridge
  # --live-restore: a dockerd with --default-address-pool that restarts on a data root holding its old
  # default network deletes the interface docker0, which is the first engine's bridge; with live-restore it
  # leaves it alone.
  setsid nohup dockerd \
    --data-root "$root" --exec-root "$run/exec" --pidfile "$pidfile" -H "$DOCKER_HOST" \
    --bridge "$bridge" --iptables=false --default-address-pool base=10.213.0.0/16,size=24 --live-restore \
    >>"$log" 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    if answers; then
      break
    fi
    sleep 1
  done
  if ! answers; then
    echo "second-engine: dockerd did not answer within 60s; its log:" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
  if ! docker image inspect busybox:latest >/dev/null 2>&1; then
    DOCKER_HOST= docker save busybox:latest | docker load -q >/dev/null
  fi
  echo "second engine: $DOCKER_HOST ($(docker version --format '{{.Server.Version}}'))"
}

stop() {
  # Its containers can only be removed through it: bring it back if it died.
  if ! answers && alive "$(containerd_pid)"; then
    start >/dev/null
  fi
  if answers; then
    docker ps -aq | xargs -r docker rm -f >/dev/null
  fi
  local d c
  d=$(dockerd_pid)
  c=$(containerd_pid)
  if alive "$d"; then
    kill -CONT "$d" 2>/dev/null || true # a test may have left it stopped
    kill -TERM "$d"
    wait_gone "$d" 30 || kill -KILL "$d"
  fi
  if alive "$c"; then
    kill -TERM "$c"
    wait_gone "$c" 20 || kill -KILL "$c"
  fi
  # Unmount what is left under its roots, deepest first, before deleting them.
  awk -v r="$root" -v x="$run" '$2 ~ "^"r"(/|$)" || $2 ~ "^"x"(/|$)" { print $2 }' /proc/mounts |
    sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  if ip link show "$bridge" >/dev/null 2>&1; then
    ip link del "$bridge"
  fi
  rm -rf "$root" "$run"
  echo "second engine: stopped and removed"
}

crash() {
  local d
  d=$(dockerd_pid)
  if alive "$d"; then
    kill -CONT "$d" 2>/dev/null || true
    kill -KILL "$d"
    wait_gone "$d" 10
  fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
kill) crash ;;
address) echo "$DOCKER_HOST" ;;
*)
  echo "usage: $0 start|stop|kill|address" >&2
  exit 2
  ;;
esac
