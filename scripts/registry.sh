#!/usr/bin/env bash
# Makes sure the two local image registries the tests push to are running, both from Debian's
# docker-registry package (the distribution registry, v2 API), both listening on loopback only:
#
#   127.0.0.1:5000  anonymous: anyone may push and pull.
#   127.0.0.1:5001  htpasswd (basic) auth: user "baleen-test", password "baleen-test-password".
#
# Each runs as a background process (setsid nohup, so it outlives this script and the make that ran it)
# with its own config, storage, htpasswd file and log under ${BALEEN_CACHE:-$HOME/.cache/baleen}/registry-anon/
# and .../registry-auth/. Deleting manifests is enabled on both. The system's /etc/docker/registry is never
# read or changed. Docker engines treat 127.0.0.0/8 as an insecure registry, so plain HTTP is fine.
#
# `registry.sh stop` stops the registries this script started (their pids are in .../registry.pid) and
# leaves any other alone; `make test` runs it at the end, so that the suite leaves nothing running.
#
# Idempotent: a port that already answers /v2/ is left alone. Installs docker-registry and apache2-utils
# (htpasswd -B: the registry accepts bcrypt hashes only) when missing. Exits non-zero, with the registry's
# log, when a registry does not answer within 30 seconds.
set -euo pipefail

user=baleen-test
password=baleen-test-password
cache="${BALEEN_CACHE:-$HOME/.cache/baleen}"

# stop NAME stops the registry this script started as NAME, if it still runs.
stop() {
  local pidfile="$cache/registry-$1/registry.pid" pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  rm -f "$pidfile"
  # Only a docker-registry process: a pid reused by something else is left alone.
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = docker-registry ]; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    echo "registry $1: stopped (pid $pid)"
  fi
}
if [ "${1:-}" = stop ]; then
  stop anon
  stop auth
  exit 0
fi

# answers reports whether an HTTP server answers GET /v2/ on 127.0.0.1:$1 (200 anonymous, 401 with auth).
answers() {
  local code
  code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$1/v2/" 2>/dev/null) || return 1
  [ "$code" = 200 ] || [ "$code" = 401 ]
}

need=()
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "registry: missing ${need[*]}: install them (sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
  echo "registry: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# start NAME PORT [auth] makes sure a registry answers on 127.0.0.1:PORT, starting one from
# $cache/registry-NAME when none does.
start() {
  local name=$1 port=$2 auth=${3:-} dir
  dir="$cache/registry-$name"
  if answers "$port"; then
    echo "registry $name: 127.0.0.1:$port answers"
    return 0
  fi
  mkdir -p "$dir/data"
  local authconf=""
  if [ -n "$auth" ]; then
    htpasswd -Bbn "$user" "$password" >"$dir/htpasswd"
    authconf="auth:
  htpasswd:
    realm: baleen-test
    path: $dir/htpasswd"
  fi
  cat >"$dir/config.yml" <<EOF
# Written by scripts/registry.sh: the $name test registry. Rewritten on every start.
version: 0.1
log:
  level: info
  fields:
    service: registry-$name
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$port
  headers:
    X-Content-Type-Options: [nosniff]
$authconf
EOF
  echo "registry $name: starting on 127.0.0.1:$port (config and log in $dir)"
  setsid nohup docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null &
  echo $! >"$dir/registry.pid"
  for _ in $(seq 1 60); do
    if answers "$port"; then
      echo "registry $name: 127.0.0.1:$port answers"
      return 0
    fi
    sleep 0.5
  done
  echo "registry $name: 127.0.0.1:$port did not answer /v2/ within 30s; its log ($dir/registry.log):" >&2
  tail -n 30 "$dir/registry.log" >&2
  return 1
}

start anon 5000
start auth 5001 auth
