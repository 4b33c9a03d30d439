# bench/lib.sh - what the benchmark scripts share (sourced, not run):
#   port          a port P with P-2..P+1 free, below the ephemeral range
#   boot LOG LINE [SECONDS]   wait until LOG holds LINE (default 30 s), or
#                 print the log's tail and exit 1
# With B (bin dir), W (work dir) and the array pids set by the script:
#   start_ns      a name server in W/ns on a free port (its port in NS)
#   broker_conf NAME PORT   W/NAME/b.conf: broker bench-a of BenchCluster on
#                 127.0.0.1:PORT, store in W/NAME/store, ASYNC_FLUSH; the
#                 caller appends its role and id
#   make_topic T  topic T (8 queues) on BenchCluster, waiting (bounded) until
#                 the name server routes it
#   stop_all      stop every process started, empty W
# workdir NAME    W = a new /tmp/comet-NAME-XXXXXX and pids=(); at exit every
#                 process in pids is stopped and W removed (KEEP=1 keeps it,
#                 printing where)
# Bench scripts run on 127.0.0.1 only and stop only the processes they start.

port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 12000))
    if ! ss -ltn | awk '{print $4}' | grep -qE ":($((p-2))|$((p-1))|$p|$((p+1)))$"; then echo $p; return; fi
  done
  echo "no free port" >&2; exit 1
}

start_ns() {
  NS=$(port)
  mkdir -p "$W/ns"
  printf "listenPort=%s\nlistenAddress=127.0.0.1\nkvConfigPath=%s/ns/kv.json\n" "$NS" "$W" > "$W/ns/ns.conf"
  "$B/mqnamesrv" -c "$W/ns/ns.conf" > "$W/ns/log" 2>&1 & pids+=($!)
  boot "$W/ns/log" "boot success"
}

broker_conf() {
  mkdir -p "$W/$1"
  cat > "$W/$1/b.conf" <<EOC
brokerClusterName=BenchCluster
brokerName=bench-a
listenPort=$2
brokerIP1=127.0.0.1
listenAddress=127.0.0.1
namesrvAddr=127.0.0.1:$NS
storePathRootDir=$W/$1/store
flushDiskType=ASYNC_FLUSH
EOC
}

make_topic() {
  "$B/mqadmin" updateTopic -n "127.0.0.1:$NS" -c BenchCluster -t "$1" -r 8 -w 8 >/dev/null
  for _ in $(seq 100); do
    "$B/mqadmin" topicRoute -n "127.0.0.1:$NS" -t "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "topic $1 has no route after 10 s" >&2; exit 1
}

workdir() {
  W=$(mktemp -d "/tmp/comet-$1-XXXXXX")
  pids=()
  trap workdir_cleanup EXIT
}

workdir_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ -n "${KEEP:-}" ]; then echo "data kept in $W"; else rm -rf "$W"; fi
}

stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; pids=(); rm -rf "${W:?}"/*; }

boot() {
  local tries=$(( ${3:-30} * 20 ))
  for _ in $(seq "$tries"); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "did not boot: $1" >&2; tail -5 "$1" >&2; exit 1
}
