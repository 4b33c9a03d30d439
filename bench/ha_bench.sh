#!/bin/bash
# ha_bench.sh - replication benchmark (not a test): a master and its slave on
# this machine, each figure beside its baseline taken in the same run.
#
#   bench/ha_bench.sh [bin dir] [seconds per producer run]
#   env: ROUNDS (3) pairs of runs, BACKLOG_MSGS (100000) catch-up backlog
#
# 1. sync sends (mqbench producer -m sync, 128 B) at 4 and 16 producer threads
#    against an ASYNC_MASTER + slave and a SYNC_MASTER + slave, taken
#    alternately (ASYNC, SYNC, ASYNC, SYNC, ...) with fresh processes each
#    time; prints msg/s and p99 of every run, the medians, and SYNC / ASYNC
#    (the median of the per-round ratios);
# 2. catch-up: a master and its slave in step; the slave is stopped
#    (SIGTERM), the master takes BACKLOG_MSGS messages of 1 KiB, the slave
#    starts again. Prints the slave's own "caught up" log line (from its
#    connection to its commit log reaching the master's end at that moment,
#    in MB/s), the time from the restart until it had dispatched everything,
#    and bin/loopback_copy of the same number of bytes of the master's
#    commit-log files (read, loopback TCP, write a file) right after.
# The machine's load (uptime) is printed before and after: on a shared
# machine the ratios of one run matter, not the absolute figures.
# Everything on 127.0.0.1, ports below the ephemeral range, data in a temp dir
# that is removed at the end; only the processes started here are stopped.
set -u
B=${1:-$(cd "$(dirname "$0")/.." && pwd)/build/bin}
D=${2:-10}
ROUNDS=${ROUNDS:-3}
BACKLOG_MSGS=${BACKLOG_MSGS:-100000}
. "$(dirname "$0")/lib.sh" # workdir, port, boot, start_ns, broker_conf, make_topic, stop_all
workdir ha-bench

info() { # addr key
  "$B/mqadmin" brokerStatus -n "127.0.0.1:$NS" -b "$1" 2>/dev/null | awk -v k="$2" '$1==k {print $3}'
}

broker() { # name role id port
  broker_conf "$1" "$4"
  printf "brokerId=%s\nbrokerRole=%s\n" "$3" "$2" >> "$W/$1/b.conf"
  start_broker "$1"
}

start_broker() { # name (conf written by broker)
  local before
  before=$(grep -c "boot success" "$W/$1/log" 2>/dev/null)
  "$B/mqbroker" -c "$W/$1/b.conf" >> "$W/$1/log" 2>&1 & pids+=($!)
  eval "PID_$1=$!"
  for _ in $(seq 600); do
    [ "$(grep -c "boot success" "$W/$1/log")" -gt "${before:-0}" ] && return 0
    sleep 0.05
  done
  echo "did not boot: $W/$1/log" >&2; tail -5 "$W/$1/log" >&2; exit 1
}

stop_one() { # pid: SIGTERM, bounded wait
  kill "$1" 2>/dev/null
  for _ in $(seq 600); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
  wait "$1" 2>/dev/null
}


wait_in_sync() { # master addr
  for _ in $(seq 300); do [ "$(info "$1" haInSyncSlaves)" = 1 ] && return 0; sleep 0.1; done
  echo "the slave never came in sync" >&2; exit 1
}

json() { # field of mqbench's --json summary line
  sed -n 's/.*"'"$2"'":\([0-9.]*\).*/\1/p' "$1" | tail -1
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {printf "%.2f", NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

echo "== $(date -u +%FT%TZ), $(nproc) cores, load: $(uptime | sed 's/.*load average: //')"
echo "== sync sends (mqbench producer -m sync -s 128 -d $D), master + slave on this machine, $ROUNDS rounds"
declare -A TPS P99
RATIOS4=""; RATIOS16=""
run_pair() { # role round
  start_ns
  MP=$(port); broker m "$1" 0 "$MP"
  SP=$(port); broker s SLAVE 1 "$SP"
  wait_in_sync "127.0.0.1:$MP"
  make_topic HaBench
  for w in 4 16; do
    "$B/mqbench" producer -n "127.0.0.1:$NS" -t HaBench -w $w -s 128 -d "$D" -m sync --json > "$W/out.json" 2>/dev/null
    local t p f
    t=$(json "$W/out.json" msgs_per_sec); p=$(json "$W/out.json" p99); f=$(json "$W/out.json" failures)
    TPS[$1,$w,$2]=$t; P99[$1,$w]="${P99[$1,$w]:-} $p"
    echo "$1 round $2, $w threads: $t msg/s, p99 $p us, failures $f"
  done
  stop_all
}
for round in $(seq "$ROUNDS"); do
  run_pair ASYNC_MASTER "$round"
  run_pair SYNC_MASTER "$round"
  RATIOS4="$RATIOS4 $(awk -v a="${TPS[ASYNC_MASTER,4,$round]}" -v s="${TPS[SYNC_MASTER,4,$round]}" 'BEGIN {printf "%.3f", s/a}')"
  RATIOS16="$RATIOS16 $(awk -v a="${TPS[ASYNC_MASTER,16,$round]}" -v s="${TPS[SYNC_MASTER,16,$round]}" 'BEGIN {printf "%.3f", s/a}')"
done
for w in 4 16; do
  a=""; s=""
  for r in $(seq "$ROUNDS"); do a="$a ${TPS[ASYNC_MASTER,$w,$r]}"; s="$s ${TPS[SYNC_MASTER,$w,$r]}"; done
  ratios=$RATIOS4; [ $w = 16 ] && ratios=$RATIOS16
  echo "summary $w threads: ASYNC_MASTER median $(echo "$a" | median) msg/s (runs:$a; p99 us:${P99[ASYNC_MASTER,$w]})," \
       "SYNC_MASTER median $(echo "$s" | median) msg/s (runs:$s; p99 us:${P99[SYNC_MASTER,$w]});" \
       "SYNC/ASYNC per round:$ratios, median $(echo "$ratios" | median)"
done

echo "== catch-up of $BACKLOG_MSGS messages of 1 KiB, load: $(uptime | sed 's/.*load average: //')"
start_ns
MP=$(port); broker m ASYNC_MASTER 0 "$MP"
SP=$(port); broker s SLAVE 1 "$SP"
wait_in_sync "127.0.0.1:$MP"
make_topic HaBacklog
start_end=$(info "127.0.0.1:$MP" commitLogMaxOffset)
stop_one "$PID_s"
start_count=$(info "127.0.0.1:$MP" msgPutTotalTodayNow)
count=0
for _ in $(seq 60); do
  count=$(( $(info "127.0.0.1:$MP" msgPutTotalTodayNow) - start_count ))
  [ "$count" -ge "$BACKLOG_MSGS" ] && break
  "$B/mqbench" producer -n "127.0.0.1:$NS" -t HaBacklog -w 4 -s 1024 -d 2 -m async -a 2000 --json >/dev/null 2>&1
done
end=$(info "127.0.0.1:$MP" commitLogMaxOffset)
bytes=$((end - start_end))
echo "backlog: $count messages, $bytes bytes written while the slave was stopped (log end $end)"
t0=$(date +%s%N)
start_broker s
t2=""
for _ in $(seq 12000); do
  if [ "$(info "127.0.0.1:$SP" commitLogMaxOffset)" = "$end" ] && [ "$(info "127.0.0.1:$SP" dispatchBehindBytes)" = 0 ]; then
    t2=$(date +%s%N); break
  fi
  sleep 0.05
done
line=$(grep "caught up with master" "$W/s/log" | tail -1 | sed 's/.*caught up/caught up/')
echo "replication: the slave's log: $line"
if [ -n "$t2" ]; then
  ms2=$(( (t2 - t0) / 1000000 ))
  echo "replication: slave restart to everything dispatched: $ms2 ms, $(awk -v b=$bytes -v m=$ms2 'BEGIN {printf "%.1f", b/1e3/m}') MB/s (includes the process start; polled every 50 ms)"
else
  echo "replication: the slave did not catch up within 10 minutes"
fi
files=$(ls "$W/m/store/commitlog/"* | sort)
# the same number of bytes, taken from the log's start (what came before the
# backlog is a few KiB)
echo -n "baseline: loopback_copy of $bytes bytes of the master's commit log: "
"$B/loopback_copy" "$bytes" "$W/copy.out" $files
echo "== done, load: $(uptime | sed 's/.*load average: //')"
stop_all
