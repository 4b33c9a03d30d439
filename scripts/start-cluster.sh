#!/usr/bin/env bash
# Install what is missing, build, and start a local Comet cluster in the
# background: one name server (127.0.0.1:9876) and, when mqbroker is built,
# one master broker (broker-a on 10911). Data and logs go to $COMET_RUN_DIR
# (default ./run). Stop it with scripts/stop-cluster.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUN_DIR=${COMET_RUN_DIR:-$ROOT/run}
NS_PORT=${COMET_NAMESRV_PORT:-9876}
BROKER_PORT=${COMET_BROKER_PORT:-10911}

scripts/deps.sh
scripts/build.sh -DCOMET_TESTS=OFF   # the servers and tools only (no Criterion needed)

mkdir -p "$RUN_DIR"
if [ -f "$RUN_DIR/mqnamesrv.pid" ] && kill -0 "$(cat "$RUN_DIR/mqnamesrv.pid")" 2>/dev/null; then
  echo "comet: a cluster is already running (pid files in $RUN_DIR); stop it with scripts/stop-cluster.sh"
  exit 1
fi

wait_line() { # file, text, seconds
  for _ in $(seq 1 $(( $3 * 10 ))); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "comet: '$2' did not appear in $1:"; tail -n 20 "$1"; return 1
}

cat > "$RUN_DIR/namesrv.conf" <<CONF
listenPort=$NS_PORT
kvConfigPath=$RUN_DIR/namesrv/kvConfig.json
CONF
mkdir -p "$RUN_DIR/namesrv"
: > "$RUN_DIR/namesrv.log"
nohup "$ROOT/build/bin/mqnamesrv" -c "$RUN_DIR/namesrv.conf" >>"$RUN_DIR/namesrv.log" 2>&1 &
echo $! > "$RUN_DIR/mqnamesrv.pid"
wait_line "$RUN_DIR/namesrv.log" "The Name Server boot success" 10
echo "comet: name server running on 127.0.0.1:$NS_PORT (pid $(cat "$RUN_DIR/mqnamesrv.pid"), log $RUN_DIR/namesrv.log)"

if [ -x "$ROOT/build/bin/mqbroker" ]; then
  mkdir -p "$RUN_DIR/broker-a"
  cat > "$RUN_DIR/broker-a.conf" <<CONF
brokerClusterName=DefaultCluster
brokerName=broker-a
brokerId=0
listenPort=$BROKER_PORT
brokerIP1=127.0.0.1
namesrvAddr=127.0.0.1:$NS_PORT
storePathRootDir=$RUN_DIR/broker-a/store
brokerRole=ASYNC_MASTER
flushDiskType=ASYNC_FLUSH
autoCreateTopicEnable=true
CONF
  : > "$RUN_DIR/broker-a.log"
  nohup "$ROOT/build/bin/mqbroker" -c "$RUN_DIR/broker-a.conf" >>"$RUN_DIR/broker-a.log" 2>&1 &
  echo $! > "$RUN_DIR/mqbroker-a.pid"
  wait_line "$RUN_DIR/broker-a.log" "boot success" 20
  echo "comet: broker-a running on 127.0.0.1:$BROKER_PORT (pid $(cat "$RUN_DIR/mqbroker-a.pid"), log $RUN_DIR/broker-a.log)"
fi
echo "comet: try it:"
echo "  NAMESRV_ADDR=127.0.0.1:$NS_PORT build/bin/mqadmin clusterList"
echo "  NAMESRV_ADDR=127.0.0.1:$NS_PORT build/bin/mqadmin sendMessage -t TopicTest -p hello"
echo "  NAMESRV_ADDR=127.0.0.1:$NS_PORT build/bin/mqadmin consumeMessage -t TopicTest -c 1"
echo "comet: stop the cluster with: scripts/stop-cluster.sh"
