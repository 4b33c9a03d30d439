#!/usr/bin/env bash
# run-table.sh - the README's performance table, in one run: a name server
# and a broker started here (ASYNC_FLUSH, then a fresh SYNC_FLUSH broker), an
# 8-queue topic, 1 KiB messages, mqbench for each case of issue 18's table,
# and the two floors measured in the same run (a bare loopback TCP
# request/response loop; write + fdatasync at the group-commit batch size the
# broker achieved).
#
#   bench/run-table.sh [-b bin_dir] [-d seconds_per_case] [-o out_dir] [-q]
#
# -b  binaries (default build/bin; build with -DCMAKE_BUILD_TYPE=Release or
#     RelWithDebInfo)
# -d  seconds per case (default 12, as the baseline)
# -o  where the JSON lines, logs and the table go (default a new temp dir);
#     the store lives there too (a few GB with 1 GiB commit-log segments)
# -q  wait (up to 30 min, checking every 60 s) for a 1-minute load average
#     below 1.5 before starting, and record the load before every case
#
# Every case prints one JSON line (mqbench --json) with msg/s, latency and
# the cost per message: CPU time and context switches of the client
# (mqbench + libcomet), the broker and the name server. The table lands in
# <out>/table.md. Only processes started here are stopped (by PID).
# Ports: free ones are picked (COMET_BENCH_NS_PORT / COMET_BENCH_BROKER_PORT
# force them).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh" # make_topic
BIN=$ROOT/build/bin
SECS=12
OUT=
QUIET=0
while getopts "b:d:o:q" opt; do
  case $opt in
    b) BIN=$(cd "$OPTARG" && pwd) ;;
    d) SECS=$OPTARG ;;
    o) OUT=$OPTARG ;;
    q) QUIET=1 ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
[[ $SECS =~ ^[0-9]+$ ]] && [ "$SECS" -ge 2 ] || { echo "run-table: -d must be a number >= 2" >&2; exit 2; }
for b in mqnamesrv mqbroker mqadmin mqbench; do
  [ -x "$BIN/$b" ] || { echo "run-table: $BIN/$b is missing" >&2; exit 2; }
done
OUT=${OUT:-$(mktemp -d /tmp/comet-table-XXXXXX)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# a port p with p-2 .. p+8 free (the broker uses p-2, p, p+1; metrics p+7)
pick_port() {
  local used p k ok
  used=" $(ss -Htan | awk '{ n = split($4, a, ":"); print a[n] }' | sort -u | tr '\n' ' ') "
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 40000))
    ok=1
    for k in $(seq $((p - 2)) $((p + 8))); do
      [[ $used == *" $k "* ]] && { ok=0; break; }
    done
    [ "$ok" = 1 ] && { echo "$p"; return; }
  done
  echo "run-table: no free port found" >&2
  exit 1
}
NS=${COMET_BENCH_NS_PORT:-$(pick_port)} # the name server's port, as lib.sh's make_topic wants
BR_PORT=${COMET_BENCH_BROKER_PORT:-$(pick_port)}
METRICS_PORT=$((BR_PORT + 7))
B=$BIN # the binaries, for make_topic
RES=$OUT/results.jsonl
: >"$RES"
PIDS=()

cleanup() {
  local p
  for p in "${PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  PIDS=()
}
trap cleanup EXIT

load1() { cut -d' ' -f1 /proc/loadavg; }

if [ "$QUIET" = 1 ]; then
  for i in $(seq 30); do
    awk -v l="$(load1)" 'BEGIN { exit !(l < 1.5) }' && break
    echo "run-table: load average $(load1), waiting for < 1.5 ($i/30)" >&2
    sleep 60
  done
fi
echo "run-table: output in $OUT; load average at start: $(cat /proc/loadavg)"

# wait_line FILE TEXT PID: until TEXT is in FILE (30 s), failing if PID exits
wait_line() {
  for _ in $(seq 300); do
    grep -q "$2" "$1" && return 0
    kill -0 "$3" 2>/dev/null || { echo "run-table: process $3 exited; $1:" >&2; tail -20 "$1" >&2; exit 1; }
    sleep 0.1
  done
  echo "run-table: '$2' not in $1 after 30 s" >&2
  exit 1
}

NS_PID=
BR_PID=
start_namesrv() {
  mkdir -p "$OUT/namesrv"
  printf 'listenPort=%s\nkvConfigPath=%s/namesrv/kv.json\n' "$NS" "$OUT" >"$OUT/namesrv.conf"
  "$BIN/mqnamesrv" -c "$OUT/namesrv.conf" >"$OUT/namesrv.log" 2>&1 &
  NS_PID=$!
  PIDS+=("$NS_PID")
  wait_line "$OUT/namesrv.log" "boot success" "$NS_PID"
}

# start_broker FLUSH_TYPE: a broker with a fresh store
start_broker() {
  local dir=$OUT/broker-$1
  rm -rf "$dir"
  mkdir -p "$dir"
  cat >"$dir.conf" <<CONF
brokerClusterName=BenchCluster
brokerName=bench-broker
brokerId=0
brokerRole=ASYNC_MASTER
flushDiskType=$1
listenPort=$BR_PORT
brokerIP1=127.0.0.1
namesrvAddr=127.0.0.1:$NS
storePathRootDir=$dir/store
autoCreateTopicEnable=false
metricsExporterType=PROM
metricsPromExporterHost=127.0.0.1
metricsPromExporterPort=$METRICS_PORT
CONF
  "$BIN/mqbroker" -c "$dir.conf" >"$dir.log" 2>&1 &
  BR_PID=$!
  PIDS+=("$BR_PID")
  wait_line "$dir.log" "boot success" "$BR_PID"
}

stop_broker() {
  kill "$BR_PID" 2>/dev/null || true
  for _ in $(seq 300); do kill -0 "$BR_PID" 2>/dev/null || break; sleep 0.1; done
  local keep=()
  for p in "${PIDS[@]}"; do [ "$p" = "$BR_PID" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

# metric NAME: a value from the broker's Prometheus endpoint (0 if absent);
# awk reads to the end (an early exit would fail curl with SIGPIPE, and the
# script under pipefail)
metric() {
  curl -s "http://127.0.0.1:$METRICS_PORT/metrics" |
    awk -v m="$1" '{ n = $1; sub(/\{.*/, "", n) } n == m && !found { v = $NF; found = 1 } END { print found ? v : 0 }'
}

# avg_batch SUM0 COUNT0 SUM1 COUNT1: rounded messages per group commit (>= 1)
avg_batch() {
  awk -v s0="$1" -v c0="$2" -v s1="$3" -v c1="$4" \
    'BEGIN { c = c1 - c0; b = c > 0 ? (s1 - s0) / c : 1; printf "%d", b < 1 ? 1 : b + 0.5 }'
}

# case LABEL MQBENCH-ARGS...: one mqbench run; its JSON line goes to results
run_case() {
  local label=$1
  shift
  local line
  echo "== $label (load $(load1))" >&2
  line=$("$BIN/mqbench" "$@" -n "127.0.0.1:$NS" --json --pid "broker=$BR_PID" --pid "namesrv=$NS_PID" \
    2>>"$OUT/mqbench.log" | tail -1)
  echo "{\"case\":\"$label\",\"load1\":$(load1),${line#\{}" | tee -a "$RES"
}

run_floor() {
  local label=$1
  shift
  local line
  echo "== $label (load $(load1))" >&2
  line=$("$BIN/mqbench" "$@" --json | tail -1)
  echo "{\"case\":\"$label\",\"load1\":$(load1),${line#\{}" | tee -a "$RES"
}

start_namesrv

# ---- ASYNC_FLUSH
start_broker ASYNC_FLUSH
make_topic BenchAsync
run_floor "floor-net 4 clients" floor-net -w 4 -d "$SECS"
run_floor "floor-net 16 clients" floor-net -w 16 -d "$SECS"
run_floor "floor-net 64 clients" floor-net -w 64 -d "$SECS"
run_case "ASYNC_FLUSH sync send 4 producers" producer -t BenchAsync -w 4 -s 1024 -d "$SECS" -m sync
run_case "ASYNC_FLUSH sync send 16 producers" producer -t BenchAsync -w 16 -s 1024 -d "$SECS" -m sync
run_case "ASYNC_FLUSH sync send 64 producers" producer -t BenchAsync -w 64 -s 1024 -d "$SECS" -m sync
run_case "ASYNC_FLUSH async send 4 threads" producer -t BenchAsync -w 4 -s 1024 -d "$SECS" -m async -a 2000
run_case "ASYNC_FLUSH consumer drain" consumer -t BenchAsync -g drain_async --from first -d 120 --until-idle 2000
stop_broker

# ---- SYNC_FLUSH
start_broker SYNC_FLUSH
make_topic BenchSync
gs0=$(metric comet_group_commit_batch_size_sum)
gc0=$(metric comet_group_commit_batch_size_count)
run_case "SYNC_FLUSH sync send 4 producers" producer -t BenchSync -w 4 -s 1024 -d "$SECS" -m sync
gs1=$(metric comet_group_commit_batch_size_sum)
gc1=$(metric comet_group_commit_batch_size_count)
batch4=$(avg_batch "$gs0" "$gc0" "$gs1" "$gc1")
run_case "SYNC_FLUSH sync send 16 producers" producer -t BenchSync -w 16 -s 1024 -d "$SECS" -m sync
gs2=$(metric comet_group_commit_batch_size_sum)
gc2=$(metric comet_group_commit_batch_size_count)
batch16=$(avg_batch "$gs1" "$gc1" "$gs2" "$gc2")
run_case "SYNC_FLUSH consumer drain" consumer -t BenchSync -g drain_sync --from first -d 120 --until-idle 2000
# the disk floor at the batch sizes the group commit achieved, on the same file system
run_floor "floor-disk batch $batch4 (SYNC_FLUSH 4 producers)" floor-disk -b "$batch4" -s 1204 -d "$SECS" -D "$OUT"
run_floor "floor-disk batch $batch16 (SYNC_FLUSH 16 producers)" floor-disk -b "$batch16" -s 1204 -d "$SECS" -D "$OUT"
run_floor "floor-disk batch 1" floor-disk -b 1 -s 1204 -d "$SECS" -D "$OUT"
ns_rss=$(awk '/RssAnon/ { print $2 }' /proc/"$NS_PID"/status)
br_rss=$(awk '/RssAnon/ { print $2 }' /proc/"$BR_PID"/status)
echo "{\"case\":\"memory after the run\",\"namesrv_rss_anon_kb\":$ns_rss,\"broker_rss_anon_kb\":$br_rss}" | tee -a "$RES"
stop_broker
cleanup

"$ROOT/bench/table.sh" "$RES" | tee "$OUT/table.md"
