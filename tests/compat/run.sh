#!/bin/sh
# tests/compat/run.sh - run the ali-ons end-to-end tests against freshly
# started mqnamesrv + mqbroker (ali_ons_test.js), against a master and its
# slave (ali_ons_ha_test.js), and with ACL signing against a broker with
# aclEnable=true (ali_ons_acl_test.js). usage: run.sh [bin dir] (default ../../build/bin)
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
timeout 280 node ali_ons_test.js "$bin"
timeout 170 node ali_ons_ha_test.js "$bin"
# ali-ons with accessKey/secretKey against a broker with aclEnable=true
exec timeout 150 node ali_ons_acl_test.js "$bin"
