#!/usr/bin/env bash
# Stop the processes scripts/start-cluster.sh started, and nothing else: each
# PID comes from $COMET_RUN_DIR/pids/ (default ./run/pids) and is signalled
# only while /proc says it is still that mqnamesrv/mqbroker running with its
# settings file from this run directory (a PID reused by another process is
# left alone). In the reverse order of the start: slaves (broker-a-1, ...),
# then masters (broker-a-0, ...), so they unregister from the name server,
# then the name server; SIGTERM, then SIGKILL after 10 s. Data and logs stay in the run directory.
set -uo pipefail
cd "$(dirname "$0")/.."
RUN_DIR=${COMET_RUN_DIR:-$(pwd)/run}
[ -d "$RUN_DIR/pids" ] || { echo "comet: nothing to stop (no $RUN_DIR/pids)"; exit 0; }
RUN_DIR=$(cd "$RUN_DIR" && pwd)

ours() { # pid name: is pid still the process we started as name?
  local cmd
  cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
  case $cmd in
    *mqnamesrv*"$RUN_DIR/$2.conf"* | *mqbroker*"$RUN_DIR/$2.conf"*) return 0 ;;
    *) return 1 ;;
  esac
}

stop_one() { # pid file
  local f=$1 name pid
  name=$(basename "$f" .pid)
  pid=$(cat "$f")
  if ! ours "$pid" "$name"; then
    echo "comet: $name (pid $pid) is not running"
    rm -f "$f"
    return
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 100); do
    ours "$pid" "$name" || break
    sleep 0.1
  done
  if ours "$pid" "$name"; then
    echo "comet: $name (pid $pid) did not stop within 10 s: SIGKILL"
    kill -KILL "$pid"
  fi
  echo "comet: stopped $name (pid $pid)"
  rm -f "$f"
}

for f in "$RUN_DIR"/pids/broker-*-[1-9]*.pid; do [ -f "$f" ] && stop_one "$f"; done
for f in "$RUN_DIR"/pids/broker-*.pid; do [ -f "$f" ] && stop_one "$f"; done
for f in "$RUN_DIR"/pids/*.pid; do [ -f "$f" ] && stop_one "$f"; done
exit 0
