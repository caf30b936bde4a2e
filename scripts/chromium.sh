#!/usr/bin/env bash
# Installs Debian's chromium for the web side's browser tests (web/webtest drives it headless). Idempotent.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "chromium: missing; install it (sudo apt-get install chromium)" >&2
  exit 1
fi
echo "chromium: installing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
