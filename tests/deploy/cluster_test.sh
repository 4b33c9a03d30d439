#!/usr/bin/env bash
# tests/deploy/cluster_test.sh - the local launcher (scripts/start-cluster.sh,
# scripts/stop-cluster.sh) and the settings that need no file edit (-o,
# ${VAR}), with the real binaries on free 127.0.0.1 ports in a temp dir.
#
#   tests/deploy/cluster_test.sh [bin dir]     (default: build/bin)
#
# Fails when: a bad option (--slaves 3, SYNC_MASTER without a slave, ...) is
# accepted; the launcher starts something other than a name server and N
# masters that register and carry messages; a first start costs more than
# 300 MB of disk (RocketMQ's sizes preallocate about 2.5 GB per broker); a
# second start runs over the first; stop-cluster.sh leaves one of its
# processes running or signals a process it did not start; with --slaves 1,
# a slave is missing, not registered as brokerId 1 on its port, not in sync
# with its SYNC_MASTER, or cannot serve the messages sent to its master once
# that master is killed (-9); -o / ${VAR} are not applied or a bad one is not
# refused. Bounded: every wait has a limit.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=$(cd "${1:-$ROOT/build/bin}" && pwd)
. "$HERE/lib.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/comet-cluster-test.XXXXXX")
DECOY=
finish() {
  local rc=$?
  COMET_RUN_DIR=$WORK/run "$ROOT/scripts/stop-cluster.sh" >/dev/null 2>&1 || true
  COMET_RUN_DIR=$WORK/run-ha "$ROOT/scripts/stop-cluster.sh" >/dev/null 2>&1 || true
  [ -n "$DECOY" ] && kill "$DECOY" 2>/dev/null
  if [ "$rc" -eq 0 ]; then rm -rf "$WORK"; else echo "cluster_test: FAILED; data and logs kept in $WORK" >&2; fi
}
trap finish EXIT

NS_PORT=$(free_port_block 1)
BASE=$(free_port_block 24)
BROKER_PORT=$((BASE + 2))
export COMET_RUN_DIR=$WORK/run COMET_NAMESRV_PORT=$NS_PORT COMET_BROKER_PORT=$BROKER_PORT COMET_BIN_DIR=$BIN
export NAMESRV_ADDR=127.0.0.1:$NS_PORT
start_cluster() { "$ROOT/scripts/start-cluster.sh" --no-build "$@"; }

log "refused options start nothing"
for bad in "--slaves 3" "--slaves x" "--masters 0" "--masters x" "--masters 11 --slaves 1" \
  "--master-role SYNC_MASTER" "--master-role SLAVE --slaves 1" "--bogus"; do
  st=0
  # shellcheck disable=SC2086
  out=$(start_cluster $bad 2>&1) || st=$?
  [ "$st" -eq 2 ] || fail "start-cluster.sh $bad exited $st (want 2): $out"
  [ -z "$(ls "$WORK/run/pids" 2>/dev/null)" ] || fail "start-cluster.sh $bad left PID files"
done
out=$(start_cluster --master-role SYNC_MASTER 2>&1) || true
grep -q "SLAVE_NOT_AVAILABLE" <<<"$out" || fail "SYNC_MASTER without slaves: the refusal does not say why: $out"

log "two masters on 127.0.0.1:$BROKER_PORT and :$((BROKER_PORT + 10)), name server :$NS_PORT"
start_cluster --masters 2 >"$WORK/start.log" 2>&1 || { cat "$WORK/start.log"; fail "start-cluster.sh --masters 2"; }
for n in namesrv broker-a-0 broker-b-0; do
  [ -s "$WORK/run/pids/$n.pid" ] || fail "no PID file for $n"
done
wait_until 20 "both masters in clusterList" \
  bash -c "'$BIN/mqadmin' clusterList | grep -q 'broker-a .* 127.0.0.1:$BROKER_PORT' &&
           '$BIN/mqadmin' clusterList | grep -q 'broker-b .* 127.0.0.1:$((BROKER_PORT + 10))'"

used=$(du -sm "$WORK/run" | cut -f1)
log "disk used by a fresh two-master cluster: ${used} MB"
[ "$used" -lt 300 ] || fail "a first start used ${used} MB (dev-sized store files expected)"

log "messages through both masters"
"$BIN/mqadmin" updateTopic -c DefaultCluster -t DeployTopic -r 2 -w 2 >/dev/null
route=$("$BIN/mqadmin" topicRoute -t DeployTopic)
grep -q broker-a <<<"$route" && grep -q broker-b <<<"$route" || fail "DeployTopic is not on both masters: $route"
for i in 1 2 3 4 5 6; do
  "$BIN/mqadmin" sendMessage -t DeployTopic -p "deploy-$i" >/dev/null || fail "sendMessage deploy-$i"
done
got=$("$BIN/mqadmin" consumeMessage -t DeployTopic -c 20)
for i in 1 2 3 4 5 6; do
  grep -q "deploy-$i" <<<"$got" || fail "deploy-$i not consumed; got: $got"
done

log "a second start does not run over the first"
st=0
out=$(start_cluster 2>&1) || st=$?
[ "$st" -eq 2 ] && grep -q "already running" <<<"$out" || fail "second start: exit $st: $out"

log "stop-cluster.sh stops exactly its processes"
pids=$(cat "$WORK/run/pids/"*.pid)
sleep 300 &
DECOY=$!
echo "$DECOY" >"$WORK/run/pids/broker-z-0.pid" # a PID that is not one of ours
"$ROOT/scripts/stop-cluster.sh" >"$WORK/stop.log" 2>&1 || { cat "$WORK/stop.log"; fail "stop-cluster.sh"; }
for p in $pids; do
  ! running "$p" || fail "pid $p still runs after stop-cluster.sh"
done
running "$DECOY" || fail "stop-cluster.sh killed a process it did not start (pid $DECOY)"
[ -z "$(ls "$WORK/run/pids")" ] || fail "PID files left: $(ls "$WORK/run/pids")"

log "--slaves 1: two SYNC_MASTER groups with a slave each"
HA_BASE=$(free_port_block 116)
HA_PORT=$((HA_BASE + 2)) # masters :HA_PORT, :HA_PORT+10; slaves :HA_PORT+100, :HA_PORT+110
export COMET_RUN_DIR=$WORK/run-ha COMET_BROKER_PORT=$HA_PORT
start_cluster --masters 2 --slaves 1 >"$WORK/start-ha.log" 2>&1 ||
  { cat "$WORK/start-ha.log"; fail "start-cluster.sh --masters 2 --slaves 1"; }
for n in namesrv broker-a-0 broker-a-1 broker-b-0 broker-b-1; do
  [ -s "$WORK/run-ha/pids/$n.pid" ] || fail "no PID file for $n"
done
grep -qx "brokerRole=SYNC_MASTER" "$WORK/run-ha/broker-a-0.conf" || fail "broker-a's master is not SYNC_MASTER"
grep -qx "brokerRole=SLAVE" "$WORK/run-ha/broker-a-1.conf" || fail "broker-a-1 is not a SLAVE"
wait_until 20 "both slaves in clusterList as brokerId 1 on their ports" bash -c \
  "'$BIN/mqadmin' clusterList | grep -Eq 'broker-a +1 +127.0.0.1:$((HA_PORT + 100)) +SLAVE' &&
   '$BIN/mqadmin' clusterList | grep -Eq 'broker-b +1 +127.0.0.1:$((HA_PORT + 110)) +SLAVE' &&
   '$BIN/mqadmin' clusterList | grep -Eq 'broker-a +0 +127.0.0.1:$HA_PORT +SYNC_MASTER'"
for p in $HA_PORT $((HA_PORT + 10)); do
  wait_until 30 "the master on :$p has its slave in sync" \
    bash -c "'$BIN/mqadmin' haStatus -b 127.0.0.1:$p | grep -q 'slaves connected 1, in sync 1'"
done

"$BIN/mqadmin" updateTopic -c DefaultCluster -t HaTopic -r 2 -w 2 >/dev/null
for i in $(seq 1 12); do
  out=$("$BIN/mqadmin" sendMessage -t HaTopic -p "ha-$i") || fail "sendMessage ha-$i"
  grep -q SEND_OK <<<"$out" || fail "ha-$i was not answered SEND_OK by a SYNC_MASTER with a slave in sync: $out"
done
before=$("$BIN/mqadmin" consumeMessage -t HaTopic -b broker-a -c 20 | sed -n 's/.*BODY: //p' | sort)
[ -n "$before" ] || fail "broker-a's master holds none of the 12 messages"
log "broker-a's master holds $(wc -l <<<"$before") of 12; killing it (-9)"
kill -KILL "$(cat "$WORK/run-ha/pids/broker-a-0.pid")"
wait_until 30 "the name server dropped broker-a's master" bash -c \
  "out=\$('$BIN/mqadmin' clusterList) && grep -Eq 'broker-a +1 ' <<<\"\$out\" && ! grep -Eq 'broker-a +0 ' <<<\"\$out\""
after=$("$BIN/mqadmin" consumeMessage -t HaTopic -b broker-a -c 20 | sed -n 's/.*BODY: //p' | sort)
[ "$after" = "$before" ] ||
  fail "from broker-a's slave, after its master was killed: got [$(echo $after)], want [$(echo $before)]"
log "all $(wc -l <<<"$after") read back from the slave"

log "stop-cluster.sh stops the slaves, the surviving master and the name server"
pids=$(cat "$WORK/run-ha/pids/"*.pid)
"$ROOT/scripts/stop-cluster.sh" >"$WORK/stop-ha.log" 2>&1 || { cat "$WORK/stop-ha.log"; fail "stop-cluster.sh"; }
for p in $pids; do
  ! running "$p" || fail "pid $p still runs after stop-cluster.sh"
done
grep -q "stopped broker-a-1" "$WORK/stop-ha.log" && grep -q "stopped broker-b-1" "$WORK/stop-ha.log" ||
  fail "stop-cluster.sh did not stop both slaves: $(cat "$WORK/stop-ha.log")"
[ -z "$(ls "$WORK/run-ha/pids")" ] || fail "PID files left: $(ls "$WORK/run-ha/pids")"

log "-o key=value and \${VAR} in settings files"
printf 'brokerName=${COMET_T_NAME}\nlistenPort=${COMET_T_PORT:-10911}\n' >"$WORK/env.conf"
out=$(COMET_T_NAME=broker-env "$BIN/mqbroker" -c "$WORK/env.conf" -o listenPort=23456 -o brokerIP1=10.9.8.7 -p)
grep -qx "brokerName=broker-env" <<<"$out" || fail "\${COMET_T_NAME} not expanded"
grep -qx "listenPort=23456" <<<"$out" || fail "-o listenPort not applied after the file"
grep -qx "brokerIP1=10.9.8.7" <<<"$out" || fail "-o brokerIP1 not applied"
printf 'listenPort=24000\nbrokerIP1=10.0.0.2\n' >"$WORK/second.conf"
out=$(COMET_T_NAME=x "$BIN/mqbroker" -c "$WORK/env.conf" -c "$WORK/second.conf" -o brokerIP1=10.0.0.3 -p)
grep -qx "listenPort=24000" <<<"$out" && grep -qx "brokerIP1=10.0.0.3" <<<"$out" && grep -qx "brokerName=x" <<<"$out" ||
  fail "-c files not loaded in order under -o: $out"
out=$(COMET_T_NAME=x "$BIN/mqbroker" -c "$WORK/env.conf" -o namesrvAddr=a:1 -n b:2 -p)
grep -qx "namesrvAddr=b:2" <<<"$out" || fail "-o and -n not applied in command-line order"
st=0
out=$("$BIN/mqbroker" -c "$WORK/env.conf" -p 2>&1) || st=$?
[ "$st" -eq 1 ] && grep -q "COMET_T_NAME is not set" <<<"$out" || fail "unset variable: exit $st: $out"
for bad in "bogusKey=1" "listenPort" "listenPort=99999"; do
  st=0
  out=$("$BIN/mqnamesrv" -o "$bad" -p 2>&1) || st=$?
  [ "$st" -eq 1 ] || fail "mqnamesrv -o $bad exited $st: $out"
  st=0
  out=$(COMET_T_NAME=x "$BIN/mqbroker" -c "$WORK/env.conf" -o "$bad" -p 2>&1) || st=$?
  [ "$st" -eq 1 ] || fail "mqbroker -o $bad exited $st: $out"
done
out=$("$BIN/mqnamesrv" -o listenPort=23457 -o brokerChannelExpiredTime=5000 -p)
grep -qx "listenPort=23457" <<<"$out" && grep -qx "brokerChannelExpiredTime=5000" <<<"$out" ||
  fail "mqnamesrv -o not applied: $out"

echo "cluster_test: OK (launcher: refusals, 2 masters in ${used} MB, messages, exact stop;" \
  "2 SYNC_MASTER+SLAVE groups, messages read from a slave after its master's kill -9; -o and \${VAR})"
