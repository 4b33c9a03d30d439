#!/bin/sh
# tests/compat/run.sh - run the ali-ons end-to-end test against freshly
# started mqnamesrv + mqbroker. usage: run.sh [bin dir] (default ../../build/bin)
# Exit 0 pass, 1 fail, 77 skipped (no node/npm).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../../build/bin}
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "SKIP: node/npm not installed"
  exit 77
fi
cd "$here"
if [ ! -d node_modules/ali-ons ]; then
  timeout 300 npm ci --no-audit --no-fund
fi
exec timeout 280 node ali_ons_test.js "$bin"
