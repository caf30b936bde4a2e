#!/usr/bin/env bash
# `make run`: starts a Baleen server for this machine's user. Makes sure a Docker engine answers, authorizes
# the user's own SSH public key (making an ed25519 key first if the user has none), prints the git remote
# line to use, and runs `baleen serve` in the foreground. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${BALEEN_DATA:-$PWD/baleen-data}
LISTEN=${BALEEN_LISTEN:-127.0.0.1:2222}
HTTP=${BALEEN_HTTP:-127.0.0.1:8080}
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

port=${LISTEN##*:}
host=${LISTEN%:*}
case "$host" in ""|0.0.0.0|"[::]") host=localhost ;; esac
cat <<MSG

Baleen is starting on $LISTEN (data in $DATA). In a repository with a baleen.yml:

  git remote add baleen ssh://$host:$port/\$(basename "\$PWD")
  git push baleen main

  ssh -p $port $host help        # projects, builds, logs, report...

The web pages: http://$HTTP/ (sign in: ssh -p $port $host web-login)

The first connection asks you to trust the server's host key. Ctrl-C stops the server.
MSG
exec bin/baleen serve --data "$DATA" --listen "$LISTEN" --authorized-keys "$keys" --http "$HTTP"
