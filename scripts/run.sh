#!/usr/bin/env bash
# `make run`: starts a Baleen server for this machine's user. Stops at once when another Baleen already runs
# on the data directory. Makes sure a Docker engine answers (DOCKER_HOST, if set, is used as it is),
# authorizes the user's own SSH public key (making an ed25519 key first if the user has none), makes the
# server's host key, prints its fingerprint, the known_hosts line and the git remote to use, and runs
# `baleen serve` in the foreground. Ctrl-C stops it.
#
# BALEEN_DATA (default ./baleen-data) and BALEEN_LISTEN (default 127.0.0.1:2222) change where.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${BALEEN_DATA:-$PWD/baleen-data}
LISTEN=${BALEEN_LISTEN:-127.0.0.1:2222}
HTTP=${BALEEN_HTTP:-127.0.0.1:8080}

# First of all: one server per data directory. `baleen serve` holds an flock on baleen.pid while it runs.
lock="$DATA/baleen.pid"
if [ -f "$lock" ] && ! flock -n "$lock" true; then
  echo "run: another Baleen is already running on this data directory (pid $(tr -d '\n' <"$lock")): $DATA" >&2
  exit 1
fi

bash scripts/ensure-docker.sh

mkdir -p "$DATA"
chmod 700 "$DATA"
keys="$DATA/authorized_keys"
touch "$keys"
chmod 600 "$keys"
pubs=()
for pub in ~/.ssh/id_ed25519.pub ~/.ssh/id_ecdsa.pub ~/.ssh/id_rsa.pub; do
  [ -f "$pub" ] && pubs+=("$pub")
done
if [ ${#pubs[@]} -eq 0 ]; then
  echo "run: you have no SSH key; making ~/.ssh/id_ed25519"
  mkdir -p ~/.ssh && chmod 700 ~/.ssh
  ssh-keygen -q -t ed25519 -N "" -f ~/.ssh/id_ed25519 -C "$(id -un)@$(hostname)"
  pubs=(~/.ssh/id_ed25519.pub)
fi
for pub in "${pubs[@]}"; do
  grep -qxF "$(cat "$pub")" "$keys" || cat "$pub" >>"$keys"
done

# The host key `baleen serve` would make on its first start, made here so that it can be shown first.
hostkey="$DATA/ssh_host_ed25519_key"
[ -f "$hostkey" ] || ssh-keygen -q -t ed25519 -N "" -C "baleen host key" -f "$hostkey"
rm -f "$hostkey.pub"

port=${LISTEN##*:}
host=${LISTEN%:*}
case "$host" in "" | 0.0.0.0 | "[::]" | "::") host=127.0.0.1 ;; esac
if [ "$port" = 22 ]; then hostport=$host; else hostport="[$host]:$port"; fi
fingerprint=$(ssh-keygen -l -f "$hostkey" | awk '{print $2}')
known="$hostport $(ssh-keygen -y -f "$hostkey" | awk '{print $1, $2}')"
cat <<MSG

Baleen is starting on $LISTEN (data in $DATA).
Its host key: $fingerprint (ED25519)

In another terminal, trust that host key once, either way:

  ssh-keyscan -p $port $host >> ~/.ssh/known_hosts
  echo '$known' >> ~/.ssh/known_hosts

then, in a repository with a baleen.yml:

  git remote add baleen ssh://$host:$port/\$(basename "\$PWD")
  git push baleen main
  ssh -p $port $host help        # projects, builds, logs, report...

The web pages: http://$HTTP/ (sign in: ssh -p $port $host web-login)

Ctrl-C stops the server.
MSG
exec bin/baleen serve --data "$DATA" --listen "$LISTEN" --authorized-keys "$keys" --http "$HTTP"
