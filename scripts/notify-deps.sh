#!/usr/bin/env bash
# Installs what the notification tests need on a Debian machine: Debian's python3-aiosmtpd, the SMTP
# server the mail tests run on loopback (notify/testdata/smtpd.py). Idempotent.
set -euo pipefail
if /usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "notify-deps: missing python3-aiosmtpd: install it (sudo apt-get install python3-aiosmtpd)" >&2
  exit 1
fi
echo "notify-deps: installing python3-aiosmtpd"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq python3-aiosmtpd >/dev/null
