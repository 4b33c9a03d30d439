#!/usr/bin/env bash
# Install the Debian packages Comet needs to build, test and run (as root on
# Debian 12). Installs only what is missing; safe to run again.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

BUILD_PKGS=(build-essential cmake pkg-config clang libclang-rt-14-dev
            libevent-dev libjansson-dev libmsgpack-dev libprotobuf-c-dev protobuf-c-compiler
            zlib1g-dev libssl-dev libyaml-dev)
TEST_PKGS=(libcriterion-dev nodejs npm iproute2 docker-compose docker.io debootstrap yamllint chromium openssl util-linux
           clang-format-14 etcd-server lcov e2fsprogs mount)
if [ "${1:-}" = "--list-build" ]; then # the build packages, for deploy/Dockerfile
  echo "${BUILD_PKGS[@]}"
  exit 0
fi
want=("${BUILD_PKGS[@]}")
if [ "${1:-}" = "--test" ]; then
  want+=("${TEST_PKGS[@]}")
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    # node from another source (e.g. nodesource) also provides npm
    if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
    if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "comet: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# promtool (Prometheus' own exposition parser and linter, for the metrics
# tests and the scrape configuration in deploy/prometheus) from Debian's
# prometheus package, unpacked into .cache/prometheus: installing the package
# would also install and start a Prometheus server.
if [ "${1:-}" = "--test" ] && [ ! -x "$ROOT/.cache/prometheus/usr/bin/promtool" ]; then
  echo "comet: unpacking promtool from Debian's prometheus package into .cache/prometheus"
  tmp=$(mktemp -d)
  chown _apt "$tmp" 2>/dev/null || chmod 777 "$tmp" # apt downloads as its sandbox user
  (cd "$tmp" && apt-get download -qq prometheus) || { [ "$(id -u)" -eq 0 ] && apt-get update -qq && (cd "$tmp" && apt-get download -qq prometheus); }
  mkdir -p "$ROOT/.cache/prometheus"
  dpkg-deb -x "$tmp"/prometheus_*.deb "$ROOT/.cache/prometheus"
  rm -rf "$tmp"
fi
