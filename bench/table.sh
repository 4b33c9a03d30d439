#!/usr/bin/env bash
# table.sh - the Markdown tables of the README's performance section from the
# JSON lines bench/run-table.sh wrote (results.jsonl).
#
#   bench/table.sh results.jsonl
#
# RocketMQ 4.9.8's figures are the baseline of issue 18, measured on this
# kind of machine (2 cores) with the same C client driving the Java broker:
# that broker cannot be built here, so they are constants, not re-measured.
set -euo pipefail
RES=${1:?results.jsonl}

# get LINE KEY: a number or string field of one JSON line
get() { sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p" <<<"$1"; }
line() { grep -F "\"case\":\"$1\"" "$RES" | tail -1; }

rocketmq() {
  case $1 in
    "ASYNC_FLUSH sync send 4 producers") echo 3318 ;;
    "ASYNC_FLUSH sync send 16 producers") echo 13603 ;;
    "ASYNC_FLUSH sync send 64 producers") echo 18274 ;;
    "ASYNC_FLUSH async send 4 threads") echo 33830 ;;
    "ASYNC_FLUSH consumer drain") echo 62298 ;;
    "SYNC_FLUSH sync send 4 producers") echo 1587 ;;
    "SYNC_FLUSH sync send 16 producers") echo 4172 ;;
    "SYNC_FLUSH consumer drain") echo 67083 ;;
  esac
}

echo "| case | Comet msg/s | latency p50 / p99 | RocketMQ 4.9.8 msg/s (issue 18) | ratio | broker CPU µs/msg | broker cs/msg | client CPU µs/msg | client cs/msg | load |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for c in "ASYNC_FLUSH sync send 4 producers" "ASYNC_FLUSH sync send 16 producers" \
  "ASYNC_FLUSH sync send 64 producers" "ASYNC_FLUSH async send 4 threads" "ASYNC_FLUSH consumer drain" \
  "SYNC_FLUSH sync send 4 producers" "SYNC_FLUSH sync send 16 producers" "SYNC_FLUSH consumer drain"; do
  l=$(line "$c")
  [ -n "$l" ] || continue
  rate=$(get "$l" msgs_per_sec)
  unit=$(get "$l" latency_unit)
  rq=$(rocketmq "$c")
  lat="$(get "$l" p50) / $(get "$l" p99) $unit"
  case $c in *async*|*drain*) [ "$unit" = ms ] && lat="(end to end) $lat" ;; esac
  case $c in *"async send"*) lat="(ack) $lat" ;; esac
  printf "| %s | %.0f | %s | %s | %.2f | %s | %s | %s | %s | %s |\n" "$c" "$rate" "$lat" "$rq" \
    "$(awk -v a="$rate" -v b="$rq" 'BEGIN { print (b > 0 ? a / b : 0) }')" \
    "$(get "$l" broker_cpu_us_per_msg)" "$(get "$l" broker_cs_per_msg)" \
    "$(get "$l" client_cpu_us_per_msg)" "$(get "$l" client_cs_per_msg)" "$(get "$l" load1)"
done
echo
echo "Floors, same run:"
echo
echo "| floor | ops/s | p50 / p99 µs | CPU µs per op (client / server) | context switches per op (client / server) | load |"
echo "|---|---|---|---|---|---|"
grep -F '"bench":"floor-' "$RES" | while IFS= read -r l; do
  c=$(get "$l" case)
  if [[ $c == floor-net* ]]; then
    printf "| %s | %.0f round trips/s | %s / %s | %s / %s | %s / %s | %s |\n" "$c" "$(get "$l" ops_per_sec)" \
      "$(get "$l" p50_us)" "$(get "$l" p99_us)" "$(get "$l" client_cpu_us_per_op)" "$(get "$l" server_cpu_us_per_op)" \
      "$(get "$l" client_cs_per_op)" "$(get "$l" server_cs_per_op)" "$(get "$l" load1)"
  else
    printf "| %s | %.0f flushes/s (%.0f msg/s) | %s / %s | %s per flush | - | %s |\n" "$c" "$(get "$l" flushes_per_sec)" \
      "$(get "$l" msgs_per_sec)" "$(get "$l" p50_us)" "$(get "$l" p99_us)" "$(get "$l" cpu_us_per_flush)" "$(get "$l" load1)"
  fi
done
m=$(line "memory after the run")
if [ -n "$m" ]; then
  echo
  echo "Anonymous memory after the run: name server $(get "$m" namesrv_rss_anon_kb) KiB, broker $(get "$m" broker_rss_anon_kb) KiB."
fi
