#!/bin/bash
# mqbench-txn.sh - transactional sends against plain sync sends in the same
# run, and the broker's check-back cost per pending message (README,
# "Transactional messages"). Starts its own mqnamesrv + mqbroker on free
# loopback ports in a temporary directory and stops exactly those PIDs.
#
#   tools/mqbench-txn.sh [bin dir=build/bin] [ASYNC_FLUSH|SYNC_FLUSH] [seconds=10] [threads=4]
#
# Runs, on one topic of 8 queues: sync, transaction, transaction, sync
# (alternated so drift in the machine's load hits both), then
# `-m transaction --txn-unknown` for 3 s: every transaction is left UNKNOWN
# and committed by the check-back (transactionTimeOut=1000,
# transactionCheckInterval=1000 on this broker). The broker's own accounting
# (mqadmin pendingTransactions: CPU time of the check service's I/O-thread
# slices / check-backs sent) gives the check-back cost per pending message.
set -u
B=${1:-$(cd "$(dirname "$0")/.." && pwd)/build/bin}
FLUSH=${2:-ASYNC_FLUSH}
D=${3:-10}
W=${4:-4}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/mqbench-txn.XXXXXX")
NSPID= BKPID=
cleanup() {
  for p in $BKPID $NSPID; do kill "$p" 2>/dev/null; done
  for p in $BKPID $NSPID; do wait "$p" 2>/dev/null; done
  rm -rf "$DIR"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
         shuf -i 20000-40000 -n 1; }
NP=$(port); BP=$(port)
printf 'listenPort=%s\n' "$NP" > "$DIR/ns.conf"
cat > "$DIR/broker.conf" <<CONF
brokerName=txbench
listenPort=$BP
namesrvAddr=127.0.0.1:$NP
brokerIP1=127.0.0.1
storePathRootDir=$DIR/store
flushDiskType=$FLUSH
mappedFileSizeCommitLog=268435456
transactionTimeOut=1000
transactionCheckInterval=1000
CONF
"$B/mqnamesrv" -c "$DIR/ns.conf" > "$DIR/ns.log" 2>&1 & NSPID=$!
sleep 1
"$B/mqbroker" -c "$DIR/broker.conf" > "$DIR/broker.log" 2>&1 & BKPID=$!
for i in $(seq 50); do grep -q "boot success" "$DIR/broker.log" && break; sleep 0.2; done
export NAMESRV_ADDR=127.0.0.1:$NP
"$B/mqadmin" updateTopic -b "127.0.0.1:$BP" -t TxBench -r 8 -w 8 > /dev/null || { cat "$DIR/broker.log"; exit 1; }
sleep 1.5
field() { sed -n "s/.*\"$1\":\\([0-9.]*\\).*/\\1/p"; }
run() { "$B/mqbench" producer -t TxBench -w "$W" -s 128 -d "$1" -m "$2" ${3:-} --json 2>/dev/null | tail -n 1; }
declare -A sum
for m in sync transaction transaction sync; do
  line=$(run "$D" $m)
  echo "$FLUSH $m: $line"
  sum[$m]=$(awk -v a="${sum[$m]:-0}" -v b="$(echo "$line" | field msgs_per_sec)" 'BEGIN{print a+b}')
done
awk -v s="${sum[sync]}" -v t="${sum[transaction]}" -v f="$FLUSH" \
  'BEGIN{printf "%s: sync %.0f msg/s, transaction %.0f msg/s (mean of 2 runs each), ratio transaction/sync %.2f\n", f, s/2, t/2, t/s}'
# pending, check-backs sent, CPU ms of the check service (its I/O-thread slices)
snap() { "$B/mqadmin" pendingTransactions -b "127.0.0.1:$BP" | awk 'NR==2{print $4, $6, $8}'; }
read -r _ c0 ms0 <<< "$(snap)"
echo "check service after the committed runs: ${ms0} ms CPU, ${c0} check-backs (it only skipped ended transactions)"
line=$(run 3 transaction --txn-unknown)
echo "$FLUSH transaction --txn-unknown: $line"
n=$(echo "$line" | field messages)
for i in $(seq 300); do
  read -r p c1 ms1 <<< "$(snap)"
  [ "$p" = 0 ] && break
  sleep 0.2
done
awk -v n="$n" -v c0="$c0" -v c1="$c1" -v a="$ms0" -v b="$ms1" -v p="$p" \
  'BEGIN{printf "check-back: %d transactions left UNKNOWN, %d check-backs sent, %d still pending; check service CPU %.1f ms = %.1f us per check-back\n", n, c1-c0, p, b-a, (c1>c0)?(b-a)*1000/(c1-c0):0}'
