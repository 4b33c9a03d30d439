#!/bin/bash
# security_bench.sh - send throughput with the plain ACL on against off, and
# with TLS against plaintext, in one run on one machine.
#
#   bench/security_bench.sh [bin dir] [seconds per run] [rounds]
#   (CASES="plain tls" LOADS=sync128 to run only some of them)
#
# Starts (in a temporary directory, on free loopback ports) one mqnamesrv
# with TLS permissive and two mqbrokers registered with it, both with TLS
# permissive (test certificates made with the openssl CLI): broker-plain
# (aclEnable=false, topic BenchPlain) and broker-acl (aclEnable=true, topic
# BenchAcl). Then, round by round so drift hits every case alike, runs
# `mqbench producer` (sync, 16 threads, 128 B; and async, 4 threads, 1 KiB)
# in four cases:
#   plain     plaintext, no ACL                      (the baseline)
#   acl       plaintext, requests signed and checked (--access-key/--secret-key)
#   tls       TLS to name server and broker, no ACL  (--tls-ca)
#   tls+acl   both
# and prints each run's JSON line, then per case the medians of msg/s, of the
# broker's CPU time per message (from /proc/<pid>/stat) and of mqbench's CPU
# time per message (/usr/bin/time), each with its ratio to the baseline: on a
# shared machine throughput follows the load, CPU time per message much
# less. Stops only the processes it started.
set -u
B=${1:-$(cd "$(dirname "$0")/.." && pwd)/build/bin}
SECS=${2:-10}
ROUNDS=${3:-3}
B=$(cd "$B" && pwd) || exit 1
W=$(mktemp -d /tmp/comet-secbench-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$W"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_log() { for _ in $(seq 1 150); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "timeout waiting for '$2' in $1" >&2; exit 1; }

cd "$W"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 \
  -subj /CN=bench-ca >/dev/null 2>&1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
  -subj /CN=localhost >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1\n' > san.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 \
  -extfile san.cnf >/dev/null 2>&1
TLS="tls.server.mode=permissive
tls.server.certPath=$W/server.pem
tls.server.keyPath=$W/server.key
tls.config.file="
cat > plain_acl.yml <<EOF
accounts:
  - accessKey: bench_user
    secretKey: bench_secret_1
    defaultTopicPerm: PUB|SUB
    defaultGroupPerm: SUB
  - accessKey: bench_admin
    secretKey: bench_secret_2
    admin: true
EOF

NSP=$(free_port)
printf 'listenPort=%s\nlistenAddress=127.0.0.1\nkvConfigPath=%s/kv.json\n%s\n' "$NSP" "$W" "$TLS" > ns.conf
"$B/mqnamesrv" -c ns.conf > ns.log 2>&1 & pids+=($!)
wait_log ns.log "boot success"
NS=127.0.0.1:$NSP
start_broker() { # name acl
  local p
  p=$(free_port)
  while [ $((p - 2)) -lt 1024 ]; do p=$(free_port); done
  cat > "$1.conf" <<EOF
brokerName=$1
brokerClusterName=BenchCluster
listenPort=$p
listenAddress=127.0.0.1
brokerIP1=127.0.0.1
namesrvAddr=$NS
storePathRootDir=$W/$1
aclEnable=$2
rocketmq.acl.plain.file=$W/plain_acl.yml
$TLS
EOF
  "$B/mqbroker" -c "$1.conf" > "$1.log" 2>&1 & pids+=($!)
  wait_log "$1.log" "boot success"
  ADDR="127.0.0.1:$p"
}
start_broker broker-plain false; BP=$ADDR
start_broker broker-acl true; BA=$ADDR
"$B/mqadmin" updateTopic -n "$NS" -b "$BP" -t BenchPlain -r 8 -w 8 >/dev/null || exit 1
MQADMIN_ACCESS_KEY=bench_admin MQADMIN_SECRET_KEY=bench_secret_2 \
  "$B/mqadmin" updateTopic -n "$NS" -b "$BA" -t BenchAcl -r 8 -w 8 >/dev/null || exit 1
sleep 1.5

KEYS=(--access-key bench_user --secret-key bench_secret_1)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
BPID=${pids[1]}
APID=${pids[2]}
run() { # case load
  local topic=BenchPlain extra=() bpid=$BPID
  case $1 in
    acl) topic=BenchAcl; extra=("${KEYS[@]}"); bpid=$APID ;;
    tls) extra=(--tls-ca "$W/ca.pem") ;;
    tls+acl) topic=BenchAcl; extra=("${KEYS[@]}" --tls-ca "$W/ca.pem"); bpid=$APID ;;
  esac
  local load=()
  if [ "$2" = sync128 ]; then load=(-w 16 -s 128 -m sync); else load=(-w 4 -s 1024 -m async -a 1000); fi
  local t0 t1 line cpu
  t0=$(ticks "$bpid")
  line=$(/usr/bin/time -f '%U %S' -o "$W/time.txt" \
         "$B/mqbench" producer -n "$NS" -t $topic "${load[@]}" -d "$SECS" --json "${extra[@]}" 2>/dev/null | tail -1)
  t1=$(ticks "$bpid")
  cpu=$(awk '{print $1 + $2}' "$W/time.txt")
  # the mqbench JSON plus the broker's CPU ticks and mqbench's CPU seconds
  echo "$1 $2 ${line%\}},\"broker_ticks\":$((t1 - t0)),\"clk_tck\":$(getconf CLK_TCK),\"client_cpu_s\":$cpu}"
}
out=$W/results.txt
CASES=${CASES:-plain acl tls tls+acl}
LOADS=${LOADS:-sync128 async1k}
for r in $(seq 1 "$ROUNDS"); do
  for load in $LOADS; do
    for c in $CASES; do
      run $c $load | tee -a "$out"
    done
  done
done
echo
echo "medians over $ROUNDS rounds, ratios to plain (load average $(cut -d' ' -f1-3 /proc/loadavg)):"
python3 - "$out" <<'EOF'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    case, load, js = line.split(' ', 2)
    try:
        d = json.loads(js)
    except ValueError:
        continue
    rows.setdefault((load, case), []).append(d)
def med(ds, f):
    return statistics.median(f(d) for d in ds)
def per_msg(d, cpu_s):
    return cpu_s * 1e6 / d['messages'] if d['messages'] else 0
print(f"{'load':8s} {'case':8s} {'msg/s':>9s} {'ratio':>6s} {'p99 ms':>8s} {'broker us/msg':>14s} {'ratio':>6s} "
      f"{'client us/msg':>14s} {'ratio':>6s} failures")
for load in ('sync128', 'async1k'):
    base = rows.get((load, 'plain'))
    if not base:
        continue
    b_tps = med(base, lambda d: d['msgs_per_sec'])
    b_bk = med(base, lambda d: per_msg(d, d['broker_ticks'] / d['clk_tck']))
    b_cl = med(base, lambda d: per_msg(d, d['client_cpu_s']))
    for case in ('plain', 'acl', 'tls', 'tls+acl'):
        ds = rows.get((load, case), [])
        if not ds:
            continue
        tps = med(ds, lambda d: d['msgs_per_sec'])
        bk = med(ds, lambda d: per_msg(d, d['broker_ticks'] / d['clk_tck']))
        cl = med(ds, lambda d: per_msg(d, d['client_cpu_s']))
        p99 = med(ds, lambda d: d.get('p99', 0)) / 1000
        fails = sum(d.get('failures', 0) for d in ds)
        print(f"{load:8s} {case:8s} {tps:9.0f} {tps / b_tps:6.2f} {p99:8.2f} {bk:14.1f} "
              f"{bk / b_bk if b_bk else 0:6.2f} {cl:14.1f} {cl / b_cl if b_cl else 0:6.2f} {fails}")
EOF
