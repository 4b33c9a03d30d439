#!/bin/bash
# mqbench-matrix.sh - the producer / consumer runs behind the README's
# performance table, against an already running name server and broker.
#
#   NAMESRV_ADDR=127.0.0.1:9876 tools/mqbench-matrix.sh <label> [bin dir] [cluster]
#
# <label> names the groups / live topics (use the broker's flushDiskType:
# ASYNC_FLUSH or SYNC_FLUSH). Each run prints one JSON summary line.
set -u
F=${1:?label, e.g. ASYNC_FLUSH}
B=${2:-$(cd "$(dirname "$0")/.." && pwd)/build/bin}
C=${3:-DefaultCluster}
: "${NAMESRV_ADDR:?set NAMESRV_ADDR}"
for t in Bench128 Bench1K Live128_$F Live1K_$F; do
  "$B/mqadmin" updateTopic -c "$C" -t "$t" -r 8 -w 8 >/dev/null || exit 1
done
sleep 1.5
for s in 128 1024; do
  t=Bench128; [ $s = 1024 ] && t=Bench1K
  echo "== $F producer size $s sync 16 threads"; "$B/mqbench" producer -t $t -w 16 -s $s -d 10 -m sync --json 2>/dev/null
  echo "== $F producer size $s async 4 threads"; "$B/mqbench" producer -t $t -w 4 -s $s -d 10 -m async -a 1000 --json 2>/dev/null
  echo "== $F consumer size $s drain backlog"; "$B/mqbench" consumer -t $t -g drain_${F}_$s --from first -d 10 --json 2>/dev/null
  echo "== $F consumer size $s live (with async producer)"
  lt=Live128_$F; [ $s = 1024 ] && lt=Live1K_$F
  "$B/mqbench" consumer -t $lt -g live_${F}_$s -d 10 --json 2>/dev/null &
  cp=$!
  sleep 2
  "$B/mqbench" producer -t $lt -w 2 -s $s -d 7 -m async -a 200 --json 2>/dev/null
  wait $cp
done
