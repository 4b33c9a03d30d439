#!/bin/bash
# controller_bench.sh - automatic failover benchmark (not a test): what
# controller mode costs and how fast it fails over, on this machine.
#
#   bench/controller_bench.sh [bin dir] [seconds per producer run] [rounds]
#
# 1. Throughput: sync sends (mqbench producer -m sync, 128 B, 16 threads)
#    against a plain SYNC_MASTER + SLAVE pair and against two brokers in
#    controller mode (SYNC_MASTER, one etcd member, lease TTL 3 s), taken
#    alternately (plain, controller, ... RUNS times each, 3 by default) with
#    fresh processes and stores each time; prints msg/s, p99 and the ratio of
#    the medians, controller / plain.
# 2. Failover time: the controller suite's kill/restart rounds
#    (test_controller, twenty_rounds_of_kill_and_restart, COMET_FAILOVER_ROUNDS
#    rounds, 20 by default): kill -9 of the master under a 4-sender SYNC_MASTER
#    + SYNC_FLUSH load, time to the first send acknowledged by the new master;
#    prints every round and min / p50 / p90 / max.
# Everything on 127.0.0.1, ports below the ephemeral range, data in temp dirs
# that are removed at the end; only the processes started here are stopped.
set -u
B=${1:-$(cd "$(dirname "$0")/.." && pwd)/build/bin}
D=${2:-10}
ROUNDS=${3:-20}
ETCD=${COMET_ETCD:-$(command -v etcd)}
[ -x "$ETCD" ] || { echo "controller_bench: no etcd (Debian's etcd-server)" >&2; exit 1; }
W=$(mktemp -d /tmp/comet-ctrl-bench-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

. "$(dirname "$0")/lib.sh" # port, boot, start_ns, broker_conf, make_topic, stop_all

start_etcd() {
  EC=$(port); EP=$(port)
  "$ETCD" --name e0 --data-dir "$W/etcd" --listen-client-urls "http://127.0.0.1:$EC" \
    --advertise-client-urls "http://127.0.0.1:$EC" --listen-peer-urls "http://127.0.0.1:$EP" \
    --initial-advertise-peer-urls "http://127.0.0.1:$EP" --initial-cluster "e0=http://127.0.0.1:$EP" \
    > "$W/etcd.log" 2>&1 & pids+=($!)
  boot "$W/etcd.log" "ready to serve client requests"
}

broker() { # name port extra-lines
  broker_conf "$1" "$2"
  echo "$3" >> "$W/$1/b.conf"
  "$B/mqbroker" -c "$W/$1/b.conf" > "$W/$1/log" 2>&1 & pids+=($!)
  boot "$W/$1/log" "boot success"
}

in_sync() { # plain: the master's haInSyncSlaves; controller: the in-sync set holds both
  if [ "$1" = plain ]; then
    "$B/mqadmin" brokerStatus -n "127.0.0.1:$NS" -b "127.0.0.1:$MP" 2>/dev/null | awk '$1=="haInSyncSlaves" {print $3}' | grep -qx 1
  else
    "$B/mqadmin" getSyncStateSet -n "127.0.0.1:$NS" -b bench-a 2>/dev/null | grep -qP '^#SyncStateSetNums\t2$'
  fi
}

json() { sed -n 's/.*"'"$2"'":\([0-9.]*\).*/\1/p' "$1" | tail -1; }

declare -A TPS P99
run() { # plain | controller
  start_ns
  MP=$(port); SP=$(port)
  if [ "$1" = plain ]; then
    broker m "$MP" "brokerRole=SYNC_MASTER
brokerId=0"
    broker s "$SP" "brokerRole=SLAVE
brokerId=1"
  else
    start_etcd
    local c="brokerRole=SYNC_MASTER
enableControllerMode=true
etcdEndpoints=http://127.0.0.1:$EC"
    broker m "$MP" "$c
brokerId=1"
    broker s "$SP" "$c
brokerId=2"
  fi
  for _ in $(seq 300); do in_sync "$1" && break; sleep 0.1; done
  in_sync "$1" || { echo "$1: the pair never got in sync" >&2; exit 1; }
  make_topic CtrlBench
  "$B/mqbench" producer -n "127.0.0.1:$NS" -t CtrlBench -w 16 -s 128 -d "$D" -m sync --json > "$W/out.json" 2>/dev/null
  local t p f
  t=$(json "$W/out.json" msgs_per_sec); p=$(json "$W/out.json" p99); f=$(json "$W/out.json" failures)
  TPS[$1]="${TPS[$1]:-} $t"; P99[$1]="${P99[$1]:-} $p"
  echo "$1: sync send 128 B, 16 threads: $t msg/s, p99 $p us, failures $f"
  stop_all
}

echo "== throughput: SYNC_MASTER + replica, plain vs controller mode (mqbench producer -m sync -s 128 -w 16 -d $D)"
for _ in $(seq "${RUNS:-3}"); do run plain; run controller; done
median() { echo "$1" | tr ' ' '\n' | awk 'NF' | sort -n | awk '{v[NR]=$1} END {printf "%.0f", NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
a=$(median "${TPS[plain]}"); c=$(median "${TPS[controller]}")
echo "summary: plain median $a msg/s (runs:${TPS[plain]}; p99 us:${P99[plain]}), controller median $c msg/s (runs:${TPS[controller]}; p99 us:${P99[controller]}), controller/plain $(awk -v a="$a" -v c="$c" 'BEGIN {printf "%.3f", c/a}')"

echo "== failover time over $ROUNDS kill -9 rounds (test_controller twenty_rounds_of_kill_and_restart)"
COMET_FAILOVER_ROUNDS=$ROUNDS "$B/test_controller" --filter 'controller/twenty_rounds_of_kill_and_restart' 2>&1 |
  grep '^controller:\|Synthesis'
