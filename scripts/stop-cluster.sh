#!/usr/bin/env bash
# Stop the processes started by scripts/start-cluster.sh (by their PID files
# only), brokers first so they can unregister from the name server.
set -uo pipefail
cd "$(dirname "$0")/.."
RUN_DIR=${COMET_RUN_DIR:-$(pwd)/run}
for f in "$RUN_DIR"/mqbroker-*.pid "$RUN_DIR"/mqnamesrv.pid; do
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    echo "comet: stopped $(basename "$f" .pid) (pid $pid)"
  fi
  rm -f "$f"
done
