#!/usr/bin/env bash
# Prints the URL of the Debian archive apt is configured with (deb822 sources or one-line sources.list),
# for the scripts that debootstrap an image root (host-image.sh, base-image.sh).
set -euo pipefail
for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] || continue
  url=$(awk '
    /^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }
    /^deb / { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\/.*\/debian\/?$/) { print $i; exit } }
  ' "$f")
  if [ -n "$url" ]; then
    echo "$url"
    exit 0
  fi
done
echo "no Debian mirror found in /etc/apt/sources.list*" >&2
exit 1
