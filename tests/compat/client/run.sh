#!/bin/sh
# tests/compat/client/run.sh - libcomet <-> ali-ons interop test against
# freshly started mqnamesrv + mqbroker. Reuses tests/compat's npm install
# (one lockfile). usage: run.sh [bin dir] (default ../../../build/bin)
# Exit 0 pass, 1 fail, 77 skipped (no node/npm or comet_interop not built).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../../../build/bin}
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "SKIP: node/npm not installed"
  exit 77
fi
if [ ! -x "$bin/comet_interop" ]; then
  echo "SKIP: $bin/comet_interop not built"
  exit 77
fi
if [ ! -d "$here/../node_modules/ali-ons" ]; then
  (cd "$here/.." && timeout 300 npm ci --no-audit --no-fund)
fi
cd "$here"
exec timeout 200 node interop.js "$bin"
