#!/bin/sh
# tests/browser/run.sh - the observability tests that need Node.js, Chromium
# and promtool (scripts/deps.sh --test installs all three):
#   metrics.test.js  the Prometheus endpoints parsed while mqbench produces and consumes
#   console.test.js  mqconsole in headless Chromium (screenshots into the artifacts dir)
#   acl.test.js      mqconsole against a broker with ACL on (its own account, operators' credentials)
#   limits.test.js   mqconsole's HTTP under hostile requests, slow clients and many connections
#   flood.js         send throughput while /metrics and the console are flooded (a report)
# usage: run.sh [bin dir] [artifacts dir]   (defaults: build/bin, build/test-artifacts/browser)
# Exit 0 pass, 1 fail. Nothing is skipped: a missing tool is a failure.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$(cd "${1:-$root/build/bin}" && pwd)
out=${2:-$root/build/test-artifacts/browser}
mkdir -p "$out" && out=$(cd "$out" && pwd) # absolute: the tests run from this folder
chromium=${COMET_CHROMIUM:-/usr/bin/chromium}
export COMET_PROMTOOL=${COMET_PROMTOOL:-$root/.cache/prometheus/usr/bin/promtool}
for tool in node npm "$chromium" "$COMET_PROMTOOL"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "tests/browser: $tool is missing: run scripts/deps.sh --test" >&2
    exit 1
  fi
done
cd "$here"
# the pinned packages (package-lock.json); puppeteer-core downloads no browser
if [ ! -d node_modules/puppeteer-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  timeout 300 npm ci --no-audit --no-fund --ignore-scripts
fi
timeout 200 node metrics.test.js "$bin"
timeout 300 node console.test.js "$bin" "$out"
timeout 200 node acl.test.js "$bin"
timeout 200 node limits.test.js "$bin"
timeout 400 node flood.js "$bin" "${COMET_FLOOD_SECONDS:-8}"
