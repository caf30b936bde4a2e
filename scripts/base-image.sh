#!/usr/bin/env bash
# Builds, without pulling from any registry, the two base images the Dockerfile names by build argument:
#
#   baleen-local/debian:trixie-<hash>   a Debian trixie root (debootstrap, minbase), as debian:trixie-slim
#   baleen-local/golang:<go>-<hash>     the same root with this machine's Go toolchain in /usr/local/go and
#                                       the module cache of this repository's go.sum, offline (GOPROXY=off)
#
# and prints the `docker build` arguments that use them, one a line:
#
#   docker build $(bash scripts/base-image.sh) --build-arg VERSION=... -t baleen:VERSION .
#
# With --debian it makes only the first and prints only its argument: enough for the Dockerfile's runtime
# stage (`docker build --target runtime`), which is what TestDockerImage builds.
#
# Cached twice, as scripts/host-image.sh: nothing runs when the tags exist, and the debootstrap root is kept
# as a tarball under ${BALEEN_CACHE:-$HOME/.cache/baleen}, so a removed image is re-imported without a new
# debootstrap. The Debian image is keyed by the root's recipe alone, so that a change to go.sum or to the
# Go stage makes neither a new debootstrap nor a new import. The packages come from the Debian mirror apt
# is configured with; the image build itself installs its packages from the same mirror (the root's
# sources.list names it). Runs unattended (no stdin); needs root for debootstrap the first time.
set -euo pipefail
cd "$(dirname "$0")/.."

debian_only=false
case "${1:-}" in
  --debian) debian_only=true ;;
  "") ;;
  *) echo "base-image: unknown argument $1 (usage: base-image.sh [--debian])" >&2; exit 2 ;;
esac

# The root's tarball and the Debian image are keyed by its recipe (change it when the root changes), not by
# the whole script, so that a change to the Go stage makes no new debootstrap.
recipe="debootstrap --variant=minbase trixie; sources.list: the mirror; no apt lists, docs or man pages"
root_hash=$(echo "$recipe" | sha256sum | cut -c1-12)
hash=$(cat scripts/base-image.sh go.sum | sha256sum | cut -c1-12)
gover=$(go env GOVERSION)
base="baleen-local/debian:trixie-$root_hash"
golang="baleen-local/golang:${gover#go}-$hash"
args() {
  printf -- '--build-arg BASE_IMAGE=%s\n' "$base"
  $debian_only || printf -- '--build-arg GO_IMAGE=%s\n' "$golang"
}
have() { docker image inspect "$1" >/dev/null 2>&1; }
if have "$base" && { $debian_only || have "$golang"; }; then
  args
  exit 0
fi

cache="${BALEEN_CACHE:-$HOME/.cache/baleen}"
tarball="$cache/trixie-$root_hash.tar"
mkdir -p "$cache"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/baleen-base.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if [ ! -s "$tarball" ]; then
  if ! command -v debootstrap >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
      echo "base-image: debootstrap is missing: sudo apt-get install debootstrap" >&2
      exit 1
    fi
    echo "base-image: installing debootstrap" >&2
    apt-get update -qq </dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap </dev/null >/dev/null
  fi
  url=$(bash scripts/debian-mirror.sh)
  echo "base-image: debootstrap trixie from $url (a few minutes)" >&2
  debootstrap --variant=minbase trixie "$tmp/root" "$url" </dev/null >"$cache/debootstrap-trixie.log" 2>&1 || {
    echo "base-image: debootstrap failed; see $cache/debootstrap-trixie.log" >&2
    exit 1
  }
  printf 'deb %s trixie main\n' "$url" >"$tmp/root/etc/apt/sources.list"
  rm -rf "$tmp"/root/var/cache/apt/archives/*.deb "$tmp"/root/var/lib/apt/lists/* "$tmp"/root/usr/share/doc/* \
    "$tmp"/root/usr/share/man/*
  tar -C "$tmp/root" --numeric-owner -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$tmp/root"
fi

have "$base" || docker import --change 'CMD ["bash"]' --change 'LABEL org.baleen.origin=scripts/base-image.sh' \
  "$tarball" "$base" >/dev/null
if $debian_only; then
  echo "base-image: $base" >&2
  args
  exit 0
fi

# The Go stage: this machine's toolchain and, taken from this machine's module cache without the network,
# exactly the modules go.sum names.
mkdir -p "$tmp/go/ctx"
proxy="file://$(go env GOMODCACHE)/cache/download"
GOFLAGS=-modcacherw GOMODCACHE="$tmp/go/ctx/mod" GOPROXY="$proxy" GOSUMDB=off go mod download
cp -a "$(go env GOROOT)" "$tmp/go/ctx/go"
cat >"$tmp/go/ctx/Dockerfile" <<DOCKERFILE
FROM $base
COPY go /usr/local/go
COPY mod /go/pkg/mod
ENV PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin GOPATH=/go \
    GOMODCACHE=/go/pkg/mod GOPROXY=off GOTOOLCHAIN=local GOFLAGS=-mod=mod
LABEL org.baleen.origin=scripts/base-image.sh
DOCKERFILE
docker build -q -t "$golang" "$tmp/go/ctx" >/dev/null
echo "base-image: $base, $golang" >&2
args
