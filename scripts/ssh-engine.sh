#!/usr/bin/env bash
# An engine reached over ssh:// for the tests of engine pools: an OpenSSH sshd on 127.0.0.1 with a throwaway
# host key and a throwaway authorized key, whose `docker system dial-stdio` reaches the second engine
# (scripts/second-engine.sh) through DOCKER_HOST, set for that key by the authorized key's environment=.
#
#   ssh-engine.sh start    install openssh-server if need be, start sshd (idempotent); prints the address
#   ssh-engine.sh stop     stop sshd and delete its keys
#   ssh-engine.sh address  print the engine's address (ssh://root@127.0.0.1:PORT)
#
# Beside the address it leaves, in its run directory (BALEEN_SSH_ENGINE_RUN, /run/baleen-ssh-engine by
# default): id_ed25519, the client key, and known_hosts, the host key under the address, which an
# engines: entry names as ssh: {identity: ..., known_hosts: ...}.
set -euo pipefail

run=${BALEEN_SSH_ENGINE_RUN:-/run/baleen-ssh-engine}
target=${BALEEN_TEST_DOCKER2:-unix:///run/baleen-docker2/docker.sock}
pidfile=$run/sshd.pid

alive() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

sshd_bin() {
  if [ -x /usr/sbin/sshd ]; then
    echo /usr/sbin/sshd
    return
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "ssh-engine: sshd is not installed (apt-get install openssh-server)" >&2
    exit 1
  fi
  echo "ssh-engine: installing openssh-server" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null 2>&1 ||
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null; }
  echo /usr/sbin/sshd
}

# free_port prints a TCP port nothing listens on at 127.0.0.1.
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 30000))
    if ! ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then
      echo "$p"
      return
    fi
  done
  echo "ssh-engine: no free port found" >&2
  exit 1
}

start() {
  if alive && [ -f "$run/address" ]; then
    cat "$run/address"
    return 0
  fi
  command -v docker >/dev/null 2>&1 || { echo "ssh-engine: the docker CLI is not installed (its dial-stdio serves the engine)" >&2; exit 1; }
  command -v ssh-keygen >/dev/null 2>&1 || { echo "ssh-engine: ssh-keygen is not installed (apt-get install openssh-client)" >&2; exit 1; }
  local sshd port user
  sshd=$(sshd_bin)
  user=$(id -un)
  rm -rf "$run"
  mkdir -p "$run" /run/sshd
  chmod 700 "$run"
  ssh-keygen -q -t ed25519 -N '' -C baleen-ssh-engine-host -f "$run/host_ed25519"
  ssh-keygen -q -t ed25519 -N '' -C baleen-ssh-engine-client -f "$run/id_ed25519"
  printf 'environment="DOCKER_HOST=%s",no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-pty %s\n' \
    "$target" "$(cat "$run/id_ed25519.pub")" >"$run/authorized_keys"
  port=$(free_port)
  cat >"$run/sshd_config" <<CONF
ListenAddress 127.0.0.1:$port
HostKey $run/host_ed25519
PidFile $pidfile
AuthorizedKeysFile $run/authorized_keys
AllowUsers $user
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitUserEnvironment DOCKER_HOST
StrictModes no
MaxStartups 100:30:200
MaxSessions 100
LogLevel ERROR
CONF
  "$sshd" -t -f "$run/sshd_config"
  "$sshd" -f "$run/sshd_config" -E "$run/sshd.log"
  for _ in $(seq 1 50); do
    alive && break
    sleep 0.1
  done
  alive || { echo "ssh-engine: sshd did not start:" >&2; cat "$run/sshd.log" >&2; exit 1; }
  echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$run/host_ed25519.pub")" >"$run/known_hosts"
  echo "ssh://$user@127.0.0.1:$port" >"$run/address"
  cat "$run/address"
}

stop() {
  if alive; then
    local pid
    pid=$(cat "$pidfile")
    kill "$pid"
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  rm -rf "$run"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  address) cat "$run/address" ;;
  *) echo "usage: $0 start|stop|address" >&2; exit 2 ;;
esac
