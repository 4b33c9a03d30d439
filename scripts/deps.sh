#!/usr/bin/env bash
# Install the Debian packages Comet needs to build, test and run (as root on
# Debian 12). Installs only what is missing; safe to run again.
set -euo pipefail

BUILD_PKGS=(build-essential cmake pkg-config clang libclang-rt-14-dev
            libevent-dev libjansson-dev libmsgpack-dev libprotobuf-c-dev protobuf-c-compiler
            zlib1g-dev)
TEST_PKGS=(libcriterion-dev nodejs npm iproute2 docker-compose)
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
