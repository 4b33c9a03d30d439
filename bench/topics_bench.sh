#!/bin/bash
# topics_bench.sh - many topics (benchmark, not a test): one name server and
# one broker on this machine; bin/topics_bench creates COUNT topics (8
# queues each) one by one with UPDATE_AND_CREATE_TOPIC and prints the time
# and each server's CPU time per block of 10,000 (flat when a creation
# costs O(1); the CPU moves less with the machine's load), how soon a topic
# just created is routed by the name server (GET_ROUTEINFO_BY_TOPIC polled
# for every 200th topic from the moment its creation was answered) and the
# route queries' own times during the run. Afterwards: each process's
# anonymous memory (RssAnon of /proc/PID/status: at the end and the largest
# seen, sampled every 0.2 s), the time the broker took to start again with
# all the topics, and whether the name server routes them all after that.
#
#   bench/topics_bench.sh [bin dir] [count]
#   env: BASE_BIN=dir  also run BASE_COUNT (20000) topics with the binaries
#        of dir (an older build) and with bin dir, fresh servers each, and
#        print the ratio of their times;
#        REGISTER_PERIOD (30000) the broker's registerNameServerPeriod (ms).
#        KEEP=1 keeps the data directory (printed at the end).
# The machine's load (uptime) is printed before and after: on a shared
# machine the ratios of one run matter, not the absolute figures.
# Everything on 127.0.0.1, ports below the ephemeral range, data in a temp
# dir that is removed at the end; only the processes started here are
# stopped.
set -u
B=${1:-$(cd "$(dirname "$0")/.." && pwd)/build/bin}
COUNT=${2:-100000}
BASE_BIN=${BASE_BIN:-}
BASE_COUNT=${BASE_COUNT:-20000}
REGISTER_PERIOD=${REGISTER_PERIOD:-30000}
. "$(dirname "$0")/lib.sh" # workdir, port, boot
workdir topics-bench

anon_kib() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
# user + system CPU of a process so far, in clock ticks (fields 14 and 15 of
# /proc/PID/stat; the name in field 2 has no spaces here)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null; }
HZ=$(getconf CLK_TCK)

stop() { # pid
  kill "$1" 2>/dev/null
  for _ in $(seq 600); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
  wait "$1" 2>/dev/null
}

start_ns() { # bin dir
  NS=$(port)
  mkdir -p "$2"
  printf "listenPort=%s\nlistenAddress=127.0.0.1\nkvConfigPath=%s/kv.json\n" "$NS" "$2" > "$2/ns.conf"
  "$1/mqnamesrv" -c "$2/ns.conf" > "$2/log" 2>&1 & NS_PID=$!; pids+=($NS_PID)
  boot "$2/log" "boot success" 60
}

start_broker() { # bin dir
  mkdir -p "$2"
  if [ ! -f "$2/b.conf" ]; then
    BP=$(port)
    cat > "$2/b.conf" <<EOC
brokerClusterName=BenchCluster
brokerName=bench-a
brokerId=0
listenPort=$BP
brokerIP1=127.0.0.1
listenAddress=127.0.0.1
namesrvAddr=127.0.0.1:$NS
storePathRootDir=$2/store
flushDiskType=ASYNC_FLUSH
registerNameServerPeriod=$REGISTER_PERIOD
EOC
  fi
  : > "$2/log"
  "$1/mqbroker" -c "$2/b.conf" > "$2/log" 2>&1 & BK_PID=$!; pids+=($BK_PID)
  boot "$2/log" "boot success" 60
}

# sample both processes' RssAnon into $1 until $2 (a file) exists
sample_mem() {
  while [ ! -e "$2" ]; do
    echo "$(anon_kib "$NS_PID") $(anon_kib "$BK_PID")" >> "$1"
    sleep 0.2
  done
}

# one run: bin dir, label, count, full (1: memory and restart too)
run() {
  local bin=$1 label=$2 n=$3 full=$4 d="$W/$2"
  mkdir -p "$d"
  start_ns "$bin" "$d/ns"
  start_broker "$bin" "$d/broker"
  echo "== $label: $n topics, $bin"
  sample_mem "$d/mem" "$d/mem.stop" &
  local sp=$!
  local c_ns c_bk
  c_ns=$(cpu_ticks "$NS_PID"); c_bk=$(cpu_ticks "$BK_PID")
  "$B/topics_bench" --broker "127.0.0.1:$BP" --namesrv "127.0.0.1:$NS" --count "$n" \
    --namesrv-pid "$NS_PID" --broker-pid "$BK_PID" | tee "$d/out"
  touch "$d/mem.stop"; wait $sp
  awk -v n="$n" -v hz="$HZ" -v ns0="$c_ns" -v ns1="$(cpu_ticks "$NS_PID")" -v bk0="$c_bk" -v bk1="$(cpu_ticks "$BK_PID")" \
    'BEGIN { printf "CPU (user+system) during the creations: name server %.2f s, broker %.2f s; per topic: name server %.0f us, broker %.0f us\n",
             (ns1-ns0)/hz, (bk1-bk0)/hz, (ns1-ns0)/hz/n*1e6, (bk1-bk0)/hz/n*1e6 }' | tee -a "$d/out"
  if [ "$full" = 1 ]; then
    awk -v ns="$(anon_kib "$NS_PID")" -v bk="$(anon_kib "$BK_PID")" '
      { if ($1 > mn) mn = $1; if ($2 > mb) mb = $2 }
      END { printf "RssAnon at the end: name server %.1f MiB, broker %.1f MiB; largest seen: name server %.1f MiB, broker %.1f MiB\n",
            ns/1024, bk/1024, mn/1024, mb/1024 }' "$d/mem"
    # restart the broker: the full registration must bring every topic back
    stop "$BK_PID"
    stop "$NS_PID"
    start_ns "$bin" "$d/ns2"
    sed -i "s/^namesrvAddr=.*/namesrvAddr=127.0.0.1:$NS/" "$d/broker/b.conf"
    local t0; t0=$(date +%s.%N)
    start_broker "$bin" "$d/broker"
    local last="BenchTopic$((n - 1))" t1 ok=0
    for _ in $(seq 600); do
      if "$bin/mqadmin" topicRoute -n "127.0.0.1:$NS" -t "$last" > /dev/null 2>&1; then ok=1; break; fi
      sleep 0.05
    done
    t1=$(date +%s.%N)
    if [ $ok = 1 ]; then
      awk -v a="$t0" -v b="$t1" 'BEGIN { printf "restart: broker started and %s routed by a fresh name server in %.2f s\n", "'"$last"'", b - a }'
    else
      echo "restart: $last NOT routed within 30 s"
    fi
    local listed
    listed=$("$bin/mqadmin" topicList -n "127.0.0.1:$NS" 2>/dev/null | grep -c '^BenchTopic')
    echo "restart: the name server lists $listed of $n BenchTopic topics"
    echo "RssAnon after the restart: name server $(( $(anon_kib "$NS_PID") / 1024 )) MiB, broker $(( $(anon_kib "$BK_PID") / 1024 )) MiB"
  fi
  stop "$BK_PID"
  stop "$NS_PID"
}

secs() { awk '/^created/ {print $(NF-3)}' "$W/$1/out"; }
cpu_per_topic() { awk '/^CPU/ {print $(NF-4) + $(NF-1)}' "$W/$1/out"; }

echo "uptime: $(uptime)"
run "$B" new "$COUNT" 1
if [ -n "$BASE_BIN" ]; then
  run "$BASE_BIN" base "$BASE_COUNT" 0
  run "$B" new-small "$BASE_COUNT" 0
  awk -v a="$(secs base)" -v b="$(secs new-small)" -v n="$BASE_COUNT" \
    'BEGIN { printf "%d topics: before %.2f s, after %.2f s: %.1fx faster\n", n, a, b, a / b }'
  awk -v a="$(cpu_per_topic base)" -v b="$(cpu_per_topic new-small)" -v n="$BASE_COUNT" \
    'BEGIN { if (b > 0) printf "%d topics: name server + broker CPU per topic: before %.0f us, after %.0f us: %.1fx less\n", n, a, b, a / b }'
fi
echo "uptime: $(uptime)"
