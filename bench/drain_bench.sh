#!/usr/bin/env bash
# drain_bench.sh - consumer drain of one backlog, new client against a
# baseline client in the same run (issue 18, item 5).
#
#   bench/drain_bench.sh [-b bin_dir] [-B baseline_bin_dir] [-f fill_seconds] [-r rounds] [-o out_dir]
#
# One mqnamesrv + one mqbroker (ASYNC_FLUSH, from -b) on loopback, an 8-queue
# topic filled with 1 KiB messages for -f seconds (default 25, `mqbench
# producer -w 4 -m async -a 2000`), then -r rounds (default 3); each round drains the whole backlog
# with `mqbench consumer --from first --until-idle 2000` under a fresh
# consumer group, once with the -B binaries (when given) and once with -b,
# in alternating order. mqbench runs with bench's libmalloc_count.so
# preloaded (from <bin_dir>/../lib, else -b's) so its JSON line also has the
# heap allocations per message (an mqbench without that field: the whole
# run's, start-up included, from the library's exit line). The JSON lines go to <out>/drain.jsonl and a
# table to stdout. Only processes started here are stopped (by PID).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
BIN=$ROOT/build/bin
BASE=
FILL=25
ROUNDS=3
OUT=
while getopts "b:B:f:r:o:" opt; do
  case $opt in
    b) BIN=$(cd "$OPTARG" && pwd) ;;
    B) BASE=$(cd "$OPTARG" && pwd) ;;
    f) FILL=$OPTARG ;;
    r) ROUNDS=$OPTARG ;;
    o) OUT=$OPTARG ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
[[ $FILL =~ ^[0-9]+$ && $ROUNDS =~ ^[0-9]+$ ]] || { echo "drain_bench: -f and -r want numbers" >&2; exit 2; }
OUT=${OUT:-$(mktemp -d /tmp/comet-drain-XXXXXX)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
}
trap cleanup EXIT

NS_PORT=$(port)
BR_PORT=$(port)
NS=127.0.0.1:$NS_PORT
printf 'listenPort=%s\nkvConfigPath=%s/kv.json\n' "$NS_PORT" "$OUT" >"$OUT/namesrv.conf"
"$BIN/mqnamesrv" -c "$OUT/namesrv.conf" >"$OUT/namesrv.log" 2>&1 &
NS_PID=$!
PIDS+=("$NS_PID")
boot "$OUT/namesrv.log" "boot success"
cat >"$OUT/broker.conf" <<CONF
brokerClusterName=DrainCluster
brokerName=drain-broker
brokerId=0
brokerRole=ASYNC_MASTER
flushDiskType=ASYNC_FLUSH
listenPort=$BR_PORT
brokerIP1=127.0.0.1
namesrvAddr=$NS
storePathRootDir=$OUT/store
autoCreateTopicEnable=false
CONF
"$BIN/mqbroker" -c "$OUT/broker.conf" >"$OUT/broker.log" 2>&1 &
BR_PID=$!
PIDS+=("$BR_PID")
boot "$OUT/broker.log" "boot success"
"$BIN/mqadmin" updateTopic -n "$NS" -c DrainCluster -t Drain -r 8 -w 8 >/dev/null
for _ in $(seq 100); do "$BIN/mqadmin" topicRoute -n "$NS" -t Drain >/dev/null 2>&1 && break; sleep 0.1; done

echo "drain_bench: filling Drain with 1 KiB messages for $FILL s (output in $OUT)" >&2
line=$("$BIN/mqbench" producer -n "$NS" -t Drain -w 4 -s 1024 -d "$FILL" -m async -a 2000 --json \
  2>>"$OUT/mqbench.log" | tail -1)
echo "drain_bench: $(sed -n 's/.*"acked":\([0-9]*\).*/\1/p' <<<"$line") messages in the backlog" >&2

RES=$OUT/drain.jsonl
: >"$RES"
drain() { # LABEL BIN GROUP
  local lib line
  lib=$(cd "$2/.." && pwd)/lib/libmalloc_count.so
  [ -f "$lib" ] || lib=$BIN/../lib/libmalloc_count.so
  echo "== $1 round $r (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  line=$(LD_PRELOAD=$lib "$2/mqbench" consumer -n "$NS" -t Drain -g "$3" --from first -d 300 \
    --until-idle 2000 --json --pid "broker=$BR_PID" 2>"$OUT/$3.err" | tail -1)
  cat "$OUT/$3.err" >>"$OUT/mqbench.log"
  if [[ $line != *client_allocs_per_msg* ]]; then
    # an older mqbench: the whole run's heap calls (start-up included) per message
    local n m
    n=$(sed -n 's/^malloc_count: \([0-9]*\) allocations.*/\1/p' "$OUT/$3.err")
    m=$(sed -n 's/.*"messages":\([0-9]*\).*/\1/p' <<<"$line")
    [ -n "$n" ] && [ "${m:-0}" -gt 0 ] && line="${line%\}},\"client_allocs_per_msg\":$(awk -v n="$n" -v m="$m" 'BEGIN { printf "%.2f", n / m }')}"
  fi
  echo "{\"client\":\"$1\",\"round\":$r,\"load1\":$(cut -d' ' -f1 /proc/loadavg),${line#\{}" | tee -a "$RES" >&2
}
for r in $(seq "$ROUNDS"); do
  if [ -n "$BASE" ] && [ $((r % 2)) = 1 ]; then
    drain baseline "$BASE" "drain_base_$r"
    drain new "$BIN" "drain_new_$r"
  else
    drain new "$BIN" "drain_new_$r"
    [ -n "$BASE" ] && drain baseline "$BASE" "drain_base_$r"
  fi
done

field() { sed -n "s/.*\"$1\":\([-0-9.]*\).*/\1/p" <<<"$2"; }
echo "| client | round | messages | msg/s | client CPU µs/msg | client cs/msg | client allocs/msg | broker CPU µs/msg | load |"
echo "|---|---|---|---|---|---|---|---|---|"
while read -r l; do
  c=$(sed -n 's/.*"client":"\([a-z]*\)".*/\1/p' <<<"$l")
  echo "| $c | $(field round "$l") | $(field messages "$l") | $(field msgs_per_sec "$l") |" \
    "$(field client_cpu_us_per_msg "$l") | $(field client_cs_per_msg "$l") |" \
    "$(field client_allocs_per_msg "$l") | $(field broker_cpu_us_per_msg "$l") | $(field load1 "$l") |"
done <"$RES"
