#!/usr/bin/env bash
# tests/deploy/compose_test.sh - deploy/docker-compose.yml brought up for real
# with a Docker engine, used from the host through its published ports.
#
#   tests/deploy/compose_test.sh [bin dir]    (default: build/bin; needs
#                                              mqadmin and comet_interop there)
#
# 1. A Docker engine (docker_env.sh: the running one, else our own dockerd,
#    stopped at the end) and debian:12-slim (pulled, else made with
#    debootstrap + docker import); the image built from deploy/Dockerfile.
#    Both stay in the engine, so a second run reuses them.
# 2. `docker-compose up -d` (name server + broker-a + broker-b, dev-sized
#    store files, host ports picked free, published on 127.0.0.1); wait for
#    every healthcheck.
# 3. Through the published ports: both masters registered at the advertised
#    address; 1,000 messages produced and consumed with libcomet
#    (comet_interop) and 1,000 with ali-ons, landing on both masters.
# 4. deploy/add-master.sh: broker-c is healthy, in the route, and receives
#    messages.
# 5. broker-a is SIGKILLed, its container removed, and a new one started on
#    the same volume: every message it held is still there and consumable.
# 6. `docker-compose down -v` removes the containers and the volumes.
# 7. deploy/docker-compose-2m-2s.yml (two name servers, broker-a and broker-b
#    each a SYNC_MASTER with its SLAVE): every healthcheck passes, both name
#    servers list the four brokers at their advertised addresses, each master
#    has its slave in sync; 1,000 messages with libcomet and 1,000 with ali-ons
#    through the published ports, each answered SEND_OK (the slave holds it).
# 8. add-master.sh -f docker-compose-2m-2s.yml adds broker-c and its slave:
#    healthy, in sync, registered, taking messages answered SEND_OK.
# 9. broker-a's master container is killed while an ali-ons consumer reads:
#    it still receives all 2,000 messages (broker-a's from the slave), a new
#    libcomet consumer group reads all 2,000 too, and producers keep sending
#    (to broker-b). The master's container is then replaced on its volume:
#    healthy, its slave back in sync, every message it held still there, and
#    new messages reach it. `down -v` removes everything.
# Fails when any step does; the figures (image size, build time, time to a
# healthy cluster, to slaves in sync, process start-up inside the
# containers) are printed.
# Exit 77 (skipped, said loudly) only when the kernel refuses containers.
# Bounded: COMET_COMPOSE_TEST_LIMIT seconds in all (default 2400, enough for
# a first run that builds the base image and the image on 2 busy cores).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=$(cd "${1:-$ROOT/build/bin}" && pwd)
. "$HERE/lib.sh"
. "$HERE/docker_env.sh"
LIMIT=${COMET_COMPOSE_TEST_LIMIT:-2400}
N=1000

for b in mqadmin comet_interop; do
  [ -x "$BIN/$b" ] || fail "$BIN/$b is missing (build with -DCOMET_TESTS=ON)"
done
command -v docker-compose >/dev/null 2>&1 || fail "docker-compose is missing (scripts/deps.sh --test installs it)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/comet-compose-test.XXXXXX")
PROJECT=comettest$$
PROJECT2=${PROJECT}ha
COMPOSE_UP=0
COMPOSE2_UP=0
WATCHDOG=
finish() {
  local rc=$?
  trap - EXIT INT TERM
  [ "$COMPOSE_UP" = 1 ] && compose_down "$rc" "" compose
  [ "$COMPOSE2_UP" = 1 ] && compose_down "$rc" -2m-2s compose2
  containers_end compose_test "$rc" "compose*.log, ps*.txt, build.log"
}
trap finish EXIT
trap 'exit 1' INT TERM
watchdog_start compose_test "$LIMIT" # the overall bound

log "compose files are valid"
docker-compose -f "$ROOT/deploy/docker-compose.yml" config -q
docker-compose -f "$ROOT/deploy/docker-compose-2m-2s.yml" config -q

containers_ready compose_test "Nothing about the compose deployment was tested."

log "building the image (deploy/Dockerfile; cached layers are reused)"
# The build stage is tagged too (comet-build:test), so its compiler layer stays
# cached while the images this replaces - and only those - are removed: the
# engine keeps two images, not one more per run.
old_ids=$("$DOCKER" image inspect -f '{{.Id}}' comet-build:test comet:test 2>/dev/null || true)
t0=$SECONDS
{ timeout 1800 "$DOCKER" build -f "$ROOT/deploy/Dockerfile" --target build -t comet-build:test "$ROOT" &&
  timeout 1800 "$DOCKER" build -f "$ROOT/deploy/Dockerfile" -t comet:test "$ROOT"; } >"$WORK/build.log" 2>&1 ||
  { tail -n 30 "$WORK/build.log" >&2; fail "docker build"; }
BUILD_SECS=$((SECONDS - t0))
new_ids=$("$DOCKER" image inspect -f '{{.Id}}' comet-build:test comet:test)
for id in $old_ids; do
  grep -q "$id" <<<"$new_ids" || "$DOCKER" rmi "$id" >/dev/null 2>&1 || true
done
IMAGE_BYTES=$("$DOCKER" image inspect -f '{{.Size}}' comet:test)
BASE_BYTES=$("$DOCKER" image inspect -f '{{.Size}}' debian:12-slim)
log "image comet:test: $((IMAGE_BYTES / 1000000)) MB (base debian:12-slim $((BASE_BYTES / 1000000)) MB), built in ${BUILD_SECS}s"
user=$("$DOCKER" image inspect -f '{{.Config.User}}' comet:test)
[ "$user" = comet ] || fail "the image runs as '$user', not the unprivileged user comet"
"$DOCKER" image inspect -f '{{json .Config.Volumes}}' comet:test | grep -q '"/var/lib/comet"' ||
  fail "the image declares no /var/lib/comet volume"

P=$(free_port_block 40)
export COMPOSE_PROJECT_NAME=$PROJECT COMET_IMAGE=comet:test COMET_STORE_SIZES=dev
export COMET_PUBLISH_ADDR=127.0.0.1 COMET_ADVERTISED_HOST=127.0.0.1
export COMET_NAMESRV_PORT=$P
export COMET_BROKER_A_VIP_PORT=$((P + 10)) COMET_BROKER_A_PORT=$((P + 12))
export COMET_BROKER_B_VIP_PORT=$((P + 20)) COMET_BROKER_B_PORT=$((P + 22))
export COMET_BROKER_C_VIP_PORT=$((P + 30)) COMET_BROKER_C_PORT=$((P + 32))
export COMET_COMPOSE_OVERRIDE=$WORK/docker-compose.override.yml COMET_COMPOSE=docker-compose
NS=127.0.0.1:$COMET_NAMESRV_PORT
compose() {
  local files=(-f "$ROOT/deploy/docker-compose.yml")
  [ -f "$WORK/docker-compose.override.yml" ] && files+=(-f "$WORK/docker-compose.override.yml")
  timeout 300 docker-compose -p "$PROJECT" "${files[@]}" "$@"
}
compose2() {
  local files=(-f "$ROOT/deploy/docker-compose-2m-2s.yml")
  [ -f "$WORK/2m-2s.override.yml" ] && files+=(-f "$WORK/2m-2s.override.yml")
  timeout 300 docker-compose -p "$PROJECT2" "${files[@]}" "$@"
}
# boot_ms PROGRAM ARGS...: milliseconds from starting PROGRAM to its boot line,
# inside a fresh container of the image (clock read in the container, output
# polled every 5 ms, at most 20 s)
boot_ms() {
  timeout 60 "$DOCKER" run --rm --network none comet:test sh -c '
    t0=$(date +%s%N); "$@" >/tmp/out 2>&1 &
    i=0
    until grep -q "boot success" /tmp/out; do
      i=$((i + 1)); [ "$i" -lt 4000 ] || { cat /tmp/out; exit 1; }; sleep 0.005
    done
    echo $((($(date +%s%N) - t0) / 1000000))' sh "$@" || echo "?"
}
topic_total() { # topic broker: the sum of the max offsets of broker's queues of topic (name servers $NS)
  local out
  out=$("$BIN/mqadmin" topicStatus -n "$NS" -t "$1" 2>&1) || fail "mqadmin topicStatus -t $1: $out"
  awk -v b="$2" '$1 == b { s += $4 } END { print s + 0 }' <<<"$out"
}

NS_BOOT=$(boot_ms mqnamesrv -c /etc/comet/namesrv.conf -o logFile=)
BR_BOOT=$(boot_ms mqbroker -c /etc/comet/broker.conf -c /etc/comet/store-production.conf -o namesrvAddr=127.0.0.1:9876 -o logFile=)
BR_BOOT_DEV=$(boot_ms mqbroker -c /etc/comet/broker.conf -c /etc/comet/store-dev.conf -o namesrvAddr=127.0.0.1:9876 -o logFile=)
STARTUP="name server ${NS_BOOT} ms, broker ${BR_BOOT} ms (production store sizes) / ${BR_BOOT_DEV} ms (dev)"
log "start-up to the boot line inside a container: $STARTUP"

log "docker-compose up: name server :$COMET_NAMESRV_PORT, broker-a :$COMET_BROKER_A_PORT, broker-b :$COMET_BROKER_B_PORT"
t0=$SECONDS
COMPOSE_UP=1
compose up -d >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; fail "docker-compose up"; }
wait_until 180 "namesrv, broker-a and broker-b healthy" healthy namesrv broker-a broker-b
UP_SECS=$((SECONDS - t0))
log "healthy ${UP_SECS}s after 'up'"
for s in namesrv broker-a broker-b; do
  [ "$("$DOCKER" exec "$(cid "$s")" id -u):$("$DOCKER" exec "$(cid "$s")" id -g)" = 10001:10001 ] ||
    fail "$s does not run as uid:gid 10001:10001"
done
# the healthcheck is not a constant "ok": a published VIP port that is not
# listenPort-2 makes it fail, with the reason
st=0
out=$("$DOCKER" exec -e COMET_VIP_PORT=1 "$(cid broker-a)" comet-healthcheck) || st=$?
[ "$st" -eq 1 ] && grep -q "COMET_VIP_PORT=1" <<<"$out" || fail "healthcheck with a wrong VIP port: exit $st: $out"

log "both masters registered at the advertised address, reachable through the published ports"
wait_until 60 "broker-a and broker-b in clusterList" bash -c \
  "'$BIN/mqadmin' clusterList -n $NS | grep -q 'broker-a .* 127.0.0.1:$COMET_BROKER_A_PORT' &&
   '$BIN/mqadmin' clusterList -n $NS | grep -q 'broker-b .* 127.0.0.1:$COMET_BROKER_B_PORT'"
"$BIN/mqadmin" updateTopic -n "$NS" -c DefaultCluster -t ComposeTopic -r 4 -w 4 >/dev/null ||
  fail "updateTopic ComposeTopic"

log "libcomet: $N messages produced and consumed"
timeout 180 "$BIN/comet_interop" produce "$NS" ComposeTopic "$N" >"$WORK/produce.txt" 2>&1 ||
  { tail "$WORK/produce.txt" >&2; fail "comet_interop produce"; }
[ "$(grep -c '^SENT ' "$WORK/produce.txt")" -eq "$N" ] || fail "libcomet sent $(grep -c '^SENT ' "$WORK/produce.txt") of $N"
timeout 180 "$BIN/comet_interop" consume "$NS" ComposeTopic GID_COMPOSE_C "$N" 120 >"$WORK/consume.txt" 2>&1 ||
  { tail "$WORK/consume.txt" >&2; fail "comet_interop consume: not all $N messages arrived"; }
A1=$(topic_total ComposeTopic broker-a)
B1=$(topic_total ComposeTopic broker-b)
[ "$A1" -gt 0 ] && [ "$B1" -gt 0 ] && [ $((A1 + B1)) -eq "$N" ] ||
  fail "libcomet's $N messages: broker-a holds $A1, broker-b $B1"
log "  broker-a holds $A1, broker-b $B1"

log "ali-ons: $N messages produced and consumed"
if [ ! -d "$ROOT/tests/compat/node_modules/ali-ons" ]; then
  (cd "$ROOT/tests/compat" && timeout 300 npm ci --no-audit --no-fund >/dev/null)
fi
timeout 200 node "$HERE/ali_ons_compose.js" "$NS" ComposeTopic "$N" ALIONS >"$WORK/ali.txt" 2>&1 ||
  { cat "$WORK/ali.txt" >&2; fail "ali-ons through the published ports"; }
grep -q '"broker-a"' "$WORK/ali.txt" && grep -q '"broker-b"' "$WORK/ali.txt" ||
  fail "ali-ons did not send to both masters: $(cat "$WORK/ali.txt")"
log "  $(grep SENT_BY_BROKER "$WORK/ali.txt")"

log "scale: deploy/add-master.sh adds broker-c"
t0=$SECONDS
"$ROOT/deploy/add-master.sh" >"$WORK/add.log" 2>&1 || { cat "$WORK/add.log" >&2; fail "add-master.sh"; }
grep -q "broker-c added" "$WORK/add.log" || fail "add-master.sh did not add broker-c: $(cat "$WORK/add.log")"
wait_until 180 "broker-c healthy" healthy broker-c
wait_until 60 "broker-c in clusterList" bash -c \
  "'$BIN/mqadmin' clusterList -n $NS | grep -q 'broker-c .* 127.0.0.1:$COMET_BROKER_C_PORT'"
SCALE_SECS=$((SECONDS - t0))
"$BIN/mqadmin" updateTopic -n "$NS" -c DefaultCluster -t ScaleTopic -r 4 -w 4 >/dev/null || fail "updateTopic ScaleTopic"
"$BIN/mqadmin" topicRoute -n "$NS" -t ScaleTopic | grep -q broker-c || fail "broker-c is not in ScaleTopic's route"
timeout 180 "$BIN/comet_interop" produce "$NS" ScaleTopic 300 >"$WORK/scale.txt" 2>&1 ||
  { tail "$WORK/scale.txt" >&2; fail "produce to ScaleTopic"; }
C1=$(topic_total ScaleTopic broker-c)
[ "$C1" -gt 0 ] || fail "broker-c received none of 300 messages"
log "  broker-c healthy and registered ${SCALE_SECS}s after add-master.sh; received $C1 of 300"

log "broker-a killed, its container replaced, restarted on its volume"
A1=$(topic_total ComposeTopic broker-a)
old=$(cid broker-a)
"$DOCKER" kill "$old" >/dev/null
compose rm -f -s broker-a >/dev/null 2>&1 || fail "remove broker-a's container"
compose up -d --no-deps broker-a >/dev/null 2>&1 || fail "start broker-a again"
[ "$(cid broker-a)" != "$old" ] || fail "broker-a was not recreated"
wait_until 180 "broker-a healthy again" healthy broker-a
wait_until 60 "broker-a registered again" bash -c \
  "'$BIN/mqadmin' clusterList -n $NS | grep -q 'broker-a .* 127.0.0.1:$COMET_BROKER_A_PORT'"
A2=$(topic_total ComposeTopic broker-a)
[ "$A2" -eq "$A1" ] || fail "broker-a held $A1 messages of ComposeTopic before the kill, $A2 after"
timeout 180 "$BIN/comet_interop" consume "$NS" ComposeTopic GID_AFTER_KILL $((2 * N)) 120 >"$WORK/after.txt" 2>&1 ||
  { tail "$WORK/after.txt" >&2; fail "after the restart, not all $((2 * N)) messages of ComposeTopic could be consumed"; }
log "  broker-a holds $A2 (was $A1); all $((2 * N)) messages consumed by a new group"
KEPT=$A2

log "docker-compose down -v"
compose down -v --remove-orphans >/dev/null 2>&1 || fail "docker-compose down -v"
COMPOSE_UP=0
left=$("$DOCKER" volume ls -q --filter "label=com.docker.compose.project=$PROJECT")
[ -z "$left" ] || fail "volumes left after down -v: $left"
left=$("$DOCKER" ps -aq --filter "label=com.docker.compose.project=$PROJECT")
[ -z "$left" ] || fail "containers left after down -v: $left"

# ---- 7. two name servers, two SYNC_MASTER + SLAVE groups ----
Q=$(free_port_block 40)
export COMPOSE_PROJECT_NAME=$PROJECT2 COMET_COMPOSE_OVERRIDE=$WORK/2m-2s.override.yml
export COMET_NAMESRV_PORT=$Q COMET_NAMESRV_2_PORT=$((Q + 1))
export COMET_BROKER_A_VIP_PORT=$((Q + 10)) COMET_BROKER_A_PORT=$((Q + 12))
export COMET_BROKER_A_S_VIP_PORT=$((Q + 14)) COMET_BROKER_A_S_PORT=$((Q + 16))
export COMET_BROKER_B_VIP_PORT=$((Q + 20)) COMET_BROKER_B_PORT=$((Q + 22))
export COMET_BROKER_B_S_VIP_PORT=$((Q + 24)) COMET_BROKER_B_S_PORT=$((Q + 26))
export COMET_BROKER_C_VIP_PORT=$((Q + 30)) COMET_BROKER_C_PORT=$((Q + 32))
export COMET_BROKER_C_S_VIP_PORT=$((Q + 34)) COMET_BROKER_C_S_PORT=$((Q + 36))
NS1=127.0.0.1:$COMET_NAMESRV_PORT
NS2=127.0.0.1:$COMET_NAMESRV_2_PORT
NS="$NS1;$NS2"
HA_SERVICES="namesrv-1 namesrv-2 broker-a broker-a-s broker-b broker-b-s"
# registered NS GROUP ID PORT ROLE: the name server NS lists brokerId ID of
# GROUP at the advertised address with that role
registered() {
  "$BIN/mqadmin" clusterList -n "$1" | grep -Eq "^DefaultCluster +$2 +$3 +127\.0\.0\.1:$4 +$5( |$)"
}
in_sync() { # master port: the master has one slave connected and in sync
  "$BIN/mqadmin" haStatus -n "$NS" -b "127.0.0.1:$1" | grep -q 'slaves connected 1, in sync 1'
}
# produced FILE COUNT: COUNT messages sent, every one answered SEND_OK
produced() {
  local sent ok
  sent=$(grep -c '^SENT ' "$1" || true)
  ok=$(awk '$1 == "SENT" && $5 == "SEND_OK"' "$1" | wc -l)
  [ "$sent" -eq "$2" ] || fail "libcomet sent $sent of $2: $(grep -v '^SENT ' "$1" | tail -n 5)"
  [ "$ok" -eq "$2" ] || fail "$((sent - ok)) of $2 sends not SEND_OK: $(awk '$1 == "SENT" && $5 != "SEND_OK"' "$1" | head -n 3)"
}
export BIN NS
export -f registered in_sync

log "docker-compose-2m-2s.yml up: name servers :$COMET_NAMESRV_PORT :$COMET_NAMESRV_2_PORT," \
  "broker-a :$COMET_BROKER_A_PORT (slave :$COMET_BROKER_A_S_PORT), broker-b :$COMET_BROKER_B_PORT (slave :$COMET_BROKER_B_S_PORT)"
t0=$SECONDS
COMPOSE2_UP=1
compose2 up -d >"$WORK/up-2m-2s.log" 2>&1 || { cat "$WORK/up-2m-2s.log" >&2; fail "docker-compose -f docker-compose-2m-2s.yml up"; }
wait_until 180 "namesrv-1 and namesrv-2 healthy" healthy namesrv-1 namesrv-2
NS2_SECS=$((SECONDS - t0)) # the brokers start only now (depends_on: service_healthy)
# shellcheck disable=SC2086
wait_until 240 "every service of docker-compose-2m-2s.yml healthy" healthy $HA_SERVICES
UP2_SECS=$((SECONDS - t0))
for ns in "$NS1" "$NS2"; do
  wait_until 60 "the four brokers registered with $ns" bash -c "
    registered '$ns' broker-a 0 $COMET_BROKER_A_PORT SYNC_MASTER && registered '$ns' broker-a 1 $COMET_BROKER_A_S_PORT SLAVE &&
    registered '$ns' broker-b 0 $COMET_BROKER_B_PORT SYNC_MASTER && registered '$ns' broker-b 1 $COMET_BROKER_B_S_PORT SLAVE"
done
for p in "$COMET_BROKER_A_PORT" "$COMET_BROKER_B_PORT"; do
  wait_until 60 "the master on :$p has its slave in sync" in_sync "$p"
done
SYNC2_SECS=$((SECONDS - t0))
log "name servers healthy ${NS2_SECS}s after 'up', all six ${UP2_SECS}s; both slaves registered and in sync after ${SYNC2_SECS}s"
"$BIN/mqadmin" haStatus -n "$NS" >"$WORK/hastatus.txt" 2>&1 || fail "mqadmin haStatus: $(cat "$WORK/hastatus.txt")"
grep -q "master broker-a:10912 connected true" "$WORK/hastatus.txt" ||
  fail "broker-a's slave does not follow broker-a:10912 (haMasterAddress): $(cat "$WORK/hastatus.txt")"

log "libcomet: $N messages produced (SEND_OK: on the slave too) and consumed through both name servers"
"$BIN/mqadmin" updateTopic -n "$NS1" -c DefaultCluster -t HaTopic -r 4 -w 4 >/dev/null || fail "updateTopic HaTopic"
timeout 300 "$BIN/comet_interop" produce "$NS" HaTopic "$N" >"$WORK/ha-produce.txt" 2>&1 ||
  { tail "$WORK/ha-produce.txt" >&2; fail "comet_interop produce (2m-2s)"; }
produced "$WORK/ha-produce.txt" "$N"
timeout 180 "$BIN/comet_interop" consume "$NS" HaTopic GID_HA_C "$N" 120 >"$WORK/ha-consume.txt" 2>&1 ||
  { tail "$WORK/ha-consume.txt" >&2; fail "comet_interop consume (2m-2s): not all $N messages arrived"; }

log "ali-ons: $N messages produced and consumed"
timeout 200 node "$HERE/ali_ons_compose.js" "$NS" HaTopic "$N" HAONS >"$WORK/ha-ali.txt" 2>&1 ||
  { cat "$WORK/ha-ali.txt" >&2; fail "ali-ons through the published ports (2m-2s)"; }
grep -q '"broker-a"' "$WORK/ha-ali.txt" && grep -q '"broker-b"' "$WORK/ha-ali.txt" ||
  fail "ali-ons did not send to both groups: $(cat "$WORK/ha-ali.txt")"
grep -qx 'NOT_SEND_OK 0' "$WORK/ha-ali.txt" || fail "ali-ons got answers other than SEND_OK: $(cat "$WORK/ha-ali.txt")"
log "  $(grep SENT_BY_BROKER "$WORK/ha-ali.txt"), every one SEND_OK"

log "add-master.sh -f docker-compose-2m-2s.yml adds broker-c and its slave broker-c-s"
t0=$SECONDS
"$ROOT/deploy/add-master.sh" -f "$ROOT/deploy/docker-compose-2m-2s.yml" >"$WORK/add-2m-2s.log" 2>&1 ||
  { cat "$WORK/add-2m-2s.log" >&2; fail "add-master.sh -f docker-compose-2m-2s.yml"; }
grep -q "broker-c and broker-c-s added" "$WORK/add-2m-2s.log" || fail "add-master.sh: $(cat "$WORK/add-2m-2s.log")"
wait_until 180 "broker-c and broker-c-s healthy" healthy broker-c broker-c-s
for ns in "$NS1" "$NS2"; do
  wait_until 60 "broker-c and its slave registered with $ns" bash -c "
    registered '$ns' broker-c 0 $COMET_BROKER_C_PORT SYNC_MASTER && registered '$ns' broker-c 1 $COMET_BROKER_C_S_PORT SLAVE"
done
wait_until 60 "broker-c has its slave in sync" in_sync "$COMET_BROKER_C_PORT"
GROUP_SECS=$((SECONDS - t0))
"$BIN/mqadmin" updateTopic -n "$NS1" -c DefaultCluster -t GroupTopic -r 4 -w 4 >/dev/null || fail "updateTopic GroupTopic"
timeout 180 "$BIN/comet_interop" produce "$NS" GroupTopic 150 >"$WORK/group.txt" 2>&1 ||
  { tail "$WORK/group.txt" >&2; fail "produce to GroupTopic"; }
produced "$WORK/group.txt" 150
C1=$(topic_total GroupTopic broker-c)
[ "$C1" -gt 0 ] || fail "broker-c received none of 150 messages"
log "  broker-c and broker-c-s healthy, registered and in sync ${GROUP_SECS}s after add-master.sh; broker-c took $C1 of 150, SEND_OK"

log "broker-a's master killed while an ali-ons consumer reads all $((2 * N)) messages"
HA_A1=$(topic_total HaTopic broker-a)
[ "$HA_A1" -gt 0 ] || fail "broker-a holds none of HaTopic's messages"
old=$(cid broker-a)
timeout 200 node "$HERE/ali_ons_compose.js" --failover "$NS" HaTopic $((2 * N)) GID_HA_FAILOVER 300 \
  "$DOCKER" kill "$old" >"$WORK/ha-failover.txt" 2>&1 ||
  { cat "$WORK/ha-failover.txt" >&2; fail "ali-ons did not receive every message across the master's kill"; }
[ "$("$DOCKER" inspect -f '{{.State.Running}}' "$old")" = false ] || fail "broker-a's master still runs after docker kill"
# the consumer holds at most 16 + 8 messages per queue ahead (4 queues per
# group); more of broker-a's than 4 * 32 after the kill came from its slave
FROM_SLAVE=$(sed -n 's/^AFTER_KILL //p' "$WORK/ha-failover.txt" | node -e \
  'let s = ""; process.stdin.on("data", d => s += d).on("end", () => console.log(JSON.parse(s)["broker-a"] || 0))')
[ "$FROM_SLAVE" -gt 128 ] ||
  fail "only $FROM_SLAVE of broker-a's messages arrived after its master's kill; the slave was not read: $(cat "$WORK/ha-failover.txt")"
log "  killed after $(sed -n 's/^KILLED_AT //p' "$WORK/ha-failover.txt") received; all $((2 * N)) received," \
  "$FROM_SLAVE of broker-a's $HA_A1 after the kill (from its slave)"
for ns in "$NS1" "$NS2"; do
  wait_until 60 "$ns dropped broker-a's master and keeps its slave" bash -c "
    ! registered '$ns' broker-a 0 $COMET_BROKER_A_PORT SYNC_MASTER && registered '$ns' broker-a 1 $COMET_BROKER_A_S_PORT SLAVE"
done
timeout 180 "$BIN/comet_interop" consume "$NS" HaTopic GID_HA_COLD $((2 * N)) 120 >"$WORK/ha-cold.txt" 2>&1 ||
  { tail "$WORK/ha-cold.txt" >&2; fail "a new libcomet group did not read all $((2 * N)) with broker-a's master down"; }
timeout 180 "$BIN/comet_interop" produce "$NS" HaTopic 100 >"$WORK/ha-down.txt" 2>&1 ||
  { tail "$WORK/ha-down.txt" >&2; fail "libcomet could not send with broker-a's master down"; }
produced "$WORK/ha-down.txt" 100
[ "$(awk '$1 == "SENT" && $6 != "broker-b"' "$WORK/ha-down.txt" | wc -l)" -eq 0 ] ||
  fail "a message went to a group without its master: $(awk '$1 == "SENT" && $6 != "broker-b"' "$WORK/ha-down.txt" | head -n 3)"
log "  a new libcomet group read all $((2 * N)); 100 more sent, all to broker-b, SEND_OK"

log "broker-a's master replaced on its volume"
t0=$SECONDS
compose2 rm -f -s broker-a >/dev/null 2>&1 || fail "remove broker-a's container"
compose2 up -d --no-deps broker-a >/dev/null 2>&1 || fail "start broker-a again"
[ "$(cid broker-a)" != "$old" ] || fail "broker-a was not recreated"
wait_until 180 "broker-a healthy again" healthy broker-a
for ns in "$NS1" "$NS2"; do
  wait_until 60 "broker-a's master registered again with $ns" bash -c "
    registered '$ns' broker-a 0 $COMET_BROKER_A_PORT SYNC_MASTER"
done
wait_until 60 "broker-a's slave back in sync" in_sync "$COMET_BROKER_A_PORT"
BACK_SECS=$((SECONDS - t0))
HA_A2=$(topic_total HaTopic broker-a)
[ "$HA_A2" -eq "$HA_A1" ] || fail "broker-a held $HA_A1 messages of HaTopic before the kill, $HA_A2 after its restart"
timeout 180 "$BIN/comet_interop" produce "$NS" HaTopic 200 >"$WORK/ha-back.txt" 2>&1 ||
  { tail "$WORK/ha-back.txt" >&2; fail "produce after broker-a's restart"; }
produced "$WORK/ha-back.txt" 200
HA_A3=$(topic_total HaTopic broker-a)
[ "$HA_A3" -gt "$HA_A2" ] || fail "broker-a took none of 200 messages after its restart"
log "  healthy, registered and its slave in sync ${BACK_SECS}s after the restart; holds $HA_A2 (was $HA_A1), took $((HA_A3 - HA_A2)) of 200 more"

log "docker-compose -f docker-compose-2m-2s.yml down -v"
compose2 down -v --remove-orphans >/dev/null 2>&1 || fail "docker-compose down -v (2m-2s)"
COMPOSE2_UP=0
left=$("$DOCKER" volume ls -q --filter "label=com.docker.compose.project=$PROJECT2")
[ -z "$left" ] || fail "volumes left after down -v: $left"
left=$("$DOCKER" ps -aq --filter "label=com.docker.compose.project=$PROJECT2")
[ -z "$left" ] || fail "containers left after down -v: $left"

echo "compose_test: OK: image $((IMAGE_BYTES / 1000000)) MB (build ${BUILD_SECS}s); cluster healthy ${UP_SECS}s after up;" \
  "start-up in container: $STARTUP; broker-c added in ${SCALE_SECS}s; 2x$N messages (libcomet, ali-ons); restart on volume kept $KEPT;" \
  "2m-2s: healthy ${UP2_SECS}s after up (name servers ${NS2_SECS}s), slaves in sync ${SYNC2_SECS}s; group broker-c added in ${GROUP_SECS}s;" \
  "2x$N messages SEND_OK; consumers read all across a master's kill; master back in sync ${BACK_SECS}s after restart"
