#!/usr/bin/env bash
# Install what is missing, build, and start a local Comet cluster in the
# background on 127.0.0.1: one name server, N master brokers (default 1) and
# M slaves per master (default 0).
#
#   scripts/start-cluster.sh [--masters N] [--slaves M] [--master-role ROLE]
#                            [--production-sizes] [--no-build]
#
# Master i (0-based) is broker-<a+i>, brokerId 0, on port COMET_BROKER_PORT +
# 10*i (VIP channel two below, HA one above): broker-a 10911, broker-b 10921,
# ... Slave j (1..M) of master i is brokerId j of the same group on port
# COMET_BROKER_PORT + 100*j + 10*i (broker-a's first slave 11011, as in
# deploy/conf/2m-2s-sync) and replicates from the master's HA port (the
# master's port + 1). With slaves there are at most 10 masters (so the ranges do not meet).
# Masters are SYNC_MASTER when M >= 1 (a send is answered once a slave has
# it), ASYNC_MASTER when M = 0; --master-role ASYNC_MASTER|SYNC_MASTER says
# otherwise (SYNC_MASTER needs a slave: without one every send would be
# answered SLAVE_NOT_AVAILABLE).
# Store files are dev-sized unless --production-sizes: 32 MiB commit-log
# segments, 600 kB consume-queue files and 8.4 MB index files, so a first
# start costs tens of megabytes per broker instead of RocketMQ's 1 GiB
# segments and 420 MB index file (about 2.5 GB per broker, all preallocated).
# Data, logs, generated settings and PID files go to $COMET_RUN_DIR
# (default ./run): broker-a-0 is broker-a's master, broker-a-1 its first slave.
# scripts/stop-cluster.sh stops exactly what this started.
#
# Environment: COMET_RUN_DIR, COMET_NAMESRV_PORT (9876), COMET_BROKER_PORT
# (10911), COMET_BIN_DIR (build/bin; with --no-build nothing is installed or
# built, the binaries there are used as they are).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUN_DIR=${COMET_RUN_DIR:-$ROOT/run}
NS_PORT=${COMET_NAMESRV_PORT:-9876}
BROKER_PORT=${COMET_BROKER_PORT:-10911}
BIN=${COMET_BIN_DIR:-$ROOT/build/bin}
MASTERS=1
SLAVES=0
ROLE=
SIZES=dev
BUILD=1

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  exit "${1:-0}"
}
die() { echo "start-cluster: $*" >&2; exit 2; }
is_count() { [[ $1 =~ ^[0-9]+$ ]]; }

while [ $# -gt 0 ]; do
  case $1 in
    --masters) [ $# -ge 2 ] || die "--masters needs a number"; MASTERS=$2; shift 2 ;;
    --masters=*) MASTERS=${1#*=}; shift ;;
    --slaves) [ $# -ge 2 ] || die "--slaves needs a number"; SLAVES=$2; shift 2 ;;
    --slaves=*) SLAVES=${1#*=}; shift ;;
    --master-role) [ $# -ge 2 ] || die "--master-role needs ASYNC_MASTER or SYNC_MASTER"; ROLE=$2; shift 2 ;;
    --master-role=*) ROLE=${1#*=}; shift ;;
    --production-sizes) SIZES=production; shift ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) usage 0 ;;
    *) echo "start-cluster: unknown argument $1" >&2; usage 2 ;;
  esac
done
is_count "$MASTERS" && [ "$MASTERS" -ge 1 ] && [ "$MASTERS" -le 26 ] || die "--masters must be 1..26, got '$MASTERS'"
is_count "$SLAVES" && [ "$SLAVES" -le 2 ] || die "--slaves must be 0..2 per master, got '$SLAVES'"
[ "$SLAVES" -eq 0 ] || [ "$MASTERS" -le 10 ] ||
  die "--slaves: at most 10 masters with slaves (slave j of master i listens on the master's port + 100*j)"
case $ROLE in
  "") [ "$SLAVES" -gt 0 ] && ROLE=SYNC_MASTER || ROLE=ASYNC_MASTER ;;
  ASYNC_MASTER) ;;
  SYNC_MASTER) [ "$SLAVES" -gt 0 ] ||
    die "--master-role SYNC_MASTER needs --slaves 1 or 2: with no slave every send is answered SLAVE_NOT_AVAILABLE" ;;
  *) die "--master-role must be ASYNC_MASTER or SYNC_MASTER, got '$ROLE'" ;;
esac
is_count "$NS_PORT" && is_count "$BROKER_PORT" || die "COMET_NAMESRV_PORT and COMET_BROKER_PORT must be numbers"
[ $((BROKER_PORT + 100 * SLAVES + 10 * (MASTERS - 1) + 9)) -le 65535 ] && [ "$BROKER_PORT" -ge 3 ] ||
  die "COMET_BROKER_PORT=$BROKER_PORT leaves no room for $MASTERS masters and $SLAVES slaves each"

if [ "$BUILD" = 1 ]; then
  scripts/deps.sh
  scripts/build.sh -DCOMET_TESTS=OFF # the servers and tools only (no Criterion needed)
fi
for b in mqnamesrv mqbroker; do
  [ -x "$BIN/$b" ] || die "$BIN/$b is missing (build first, or set COMET_BIN_DIR)"
done

mkdir -p "$RUN_DIR/pids"
RUN_DIR=$(cd "$RUN_DIR" && pwd)
for f in "$RUN_DIR"/pids/*.pid; do
  [ -f "$f" ] || continue
  if kill -0 "$(cat "$f")" 2>/dev/null; then
    die "a cluster is already running from $RUN_DIR ($(basename "$f" .pid) is pid $(cat "$f")); stop it with scripts/stop-cluster.sh"
  fi
  rm -f "$f"
done

STARTED=()
cleanup_on_failure() {
  echo "start-cluster: stopping what was started" >&2
  COMET_RUN_DIR=$RUN_DIR "$ROOT/scripts/stop-cluster.sh" >&2 || true
}

# start NAME LOGLINE SECONDS CMD...: start CMD in the background with its
# output in $RUN_DIR/NAME.log and its PID in $RUN_DIR/pids/NAME.pid, then wait
# (bounded) until LOGLINE appears; fail at once if the process exits.
start() {
  local name=$1 line=$2 secs=$3
  shift 3
  local log=$RUN_DIR/$name.log
  : >"$log"
  nohup "$@" >>"$log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$RUN_DIR/pids/$name.pid"
  STARTED+=("$name")
  local deadline=$((SECONDS + secs))
  until grep -q "$line" "$log"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "start-cluster: $name exited during start-up; last lines of $log:" >&2
      tail -n 20 "$log" >&2
      cleanup_on_failure
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "start-cluster: '$line' did not appear in $log within ${secs}s:" >&2
      tail -n 20 "$log" >&2
      cleanup_on_failure
      exit 1
    fi
    sleep 0.1
  done
}

mkdir -p "$RUN_DIR/namesrv"
cat >"$RUN_DIR/namesrv.conf" <<CONF
# generated by scripts/start-cluster.sh
listenPort=$NS_PORT
kvConfigPath=$RUN_DIR/namesrv/kvConfig.json
CONF
start namesrv "The Name Server boot success" 10 "$BIN/mqnamesrv" -c "$RUN_DIR/namesrv.conf"
echo "comet: name server on 127.0.0.1:$NS_PORT (pid $(cat "$RUN_DIR/pids/namesrv.pid"), log $RUN_DIR/namesrv.log)"

if [ "$SIZES" = dev ]; then
  STORE_SIZES="# dev-sized store files (--production-sizes keeps RocketMQ's defaults)
mappedFileSizeCommitLog=33554432
mappedFileSizeConsumeQueue=600000
maxHashSlotNum=100000
maxIndexNum=400000"
else
  STORE_SIZES="# RocketMQ's default store file sizes (1 GiB commit-log segments, 420 MB index files)"
fi

# broker_conf NAME ID ROLE PORT: the settings file of one broker
broker_conf() {
  cat <<CONF
# generated by scripts/start-cluster.sh
brokerClusterName=DefaultCluster
brokerName=$1
brokerId=$2
brokerRole=$3
flushDiskType=ASYNC_FLUSH
listenPort=$4
brokerIP1=127.0.0.1
namesrvAddr=127.0.0.1:$NS_PORT
storePathRootDir=$RUN_DIR/$1-$2/store
autoCreateTopicEnable=true
$STORE_SIZES
CONF
}

letters=abcdefghijklmnopqrstuvwxyz
for ((i = 0; i < MASTERS; i++)); do
  name=broker-${letters:i:1}
  port=$((BROKER_PORT + 10 * i))
  mkdir -p "$RUN_DIR/$name-0"
  broker_conf "$name" 0 "$ROLE" "$port" >"$RUN_DIR/$name-0.conf"
  start "$name-0" "boot success" 30 "$BIN/mqbroker" -c "$RUN_DIR/$name-0.conf"
  echo "comet: $name master ($ROLE) on 127.0.0.1:$port, HA port $((port + 1))" \
    "(pid $(cat "$RUN_DIR/pids/$name-0.pid"), log $RUN_DIR/$name-0.log)"
done
# Slaves after every master. Each is given its master's HA address
# (haMasterAddress) rather than learning it from the name server's answer to
# its first registration: "boot success" comes before a master's registration
# has completed, so a slave started right after could miss it and wait for its
# next registration (registerNameServerPeriod, 30 s).
for ((j = 1; j <= SLAVES; j++)); do
  for ((i = 0; i < MASTERS; i++)); do
    name=broker-${letters:i:1}
    port=$((BROKER_PORT + 100 * j + 10 * i))
    mkdir -p "$RUN_DIR/$name-$j"
    { broker_conf "$name" "$j" SLAVE "$port"; echo "haMasterAddress=127.0.0.1:$((BROKER_PORT + 10 * i + 1))"; } \
      >"$RUN_DIR/$name-$j.conf"
    start "$name-$j" "boot success" 30 "$BIN/mqbroker" -c "$RUN_DIR/$name-$j.conf"
    echo "comet: $name slave $j on 127.0.0.1:$port (pid $(cat "$RUN_DIR/pids/$name-$j.pid"), log $RUN_DIR/$name-$j.log)"
  done
done

echo "comet: store files are ${SIZES}-sized; disk used under $RUN_DIR: $(du -sh "$RUN_DIR" | cut -f1)"
echo "comet: try it:"
echo "  export NAMESRV_ADDR=127.0.0.1:$NS_PORT"
echo "  $BIN/mqadmin clusterList"
echo "  $BIN/mqadmin sendMessage -t TopicTest -p hello"
echo "  $BIN/mqadmin consumeMessage -t TopicTest -c 1"
[ "$SLAVES" -eq 0 ] || echo "  $BIN/mqadmin haStatus     # each master's slaves: acknowledged offset, in sync"
echo "comet: stop the cluster with: scripts/stop-cluster.sh"
