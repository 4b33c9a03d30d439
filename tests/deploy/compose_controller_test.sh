#!/usr/bin/env bash
# tests/deploy/compose_controller_test.sh - deploy/docker-compose-controller.yml
# (three etcd members, a name server, two groups of two brokers in controller
# mode).
#
#   tests/deploy/compose_controller_test.sh [--config-only] [bin dir]
#
# 1. Always: the compose file is valid (docker-compose config -q) and lints
#    (yamllint, the repository's rules); the etcd Dockerfile installs Debian's
#    etcd-server. --config-only stops here (no Docker engine needed).
# 2. With a Docker engine (docker_env.sh: the running one, else our own
#    dockerd): the Comet image (deploy/Dockerfile) and the etcd image
#    (deploy/etcd/Dockerfile, both on debian:12-slim) are built; `up`; every
#    service healthy; each group elects a master with both replicas in sync
#    (mqadmin getSyncStateSet through the published name-server port); 500
#    messages produced with libcomet; broker-a's master container is killed;
#    its replica is elected and 500 more messages are produced; the killed
#    container is started again and rejoins the in-sync set; `down -v`.
# Fails when any step does; exit 77 (skipped, said loudly) only when the
# kernel refuses containers. Bounded: COMET_COMPOSE_TEST_LIMIT seconds
# (default 2400: a first run builds both images on 2 busy cores).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CONFIG_ONLY=0
if [ "${1:-}" = "--config-only" ]; then
  CONFIG_ONLY=1
  shift
fi
. "$HERE/lib.sh"
FILE=$ROOT/deploy/docker-compose-controller.yml

command -v docker-compose >/dev/null 2>&1 || fail "docker-compose is missing (scripts/deps.sh --test installs it)"
command -v yamllint >/dev/null 2>&1 || fail "yamllint is missing (scripts/deps.sh --test installs it)"
log "compose file valid and lint-clean"
docker-compose -f "$FILE" config -q || fail "docker-compose config: $FILE"
yamllint -s -c "$HERE/yamllint.yml" "$FILE" || fail "yamllint: $FILE"
grep -q "install -y --no-install-recommends etcd-server" "$ROOT/deploy/etcd/Dockerfile" ||
  fail "deploy/etcd/Dockerfile does not install Debian's etcd-server"
# every broker of the compose file runs in controller mode with the three members
services=$(docker-compose -f "$FILE" config --services)
for s in etcd-1 etcd-2 etcd-3 namesrv broker-a-1 broker-a-2 broker-b-1 broker-b-2; do
  grep -qx "$s" <<<"$services" || fail "service $s missing from $FILE"
done
grep -q "^enableControllerMode=true" "$ROOT/deploy/conf/controller/broker-controller.conf" ||
  fail "the brokers' settings do not enable controller mode"
if [ "$CONFIG_ONLY" = 1 ]; then
  echo "compose_controller_test: configuration OK (not brought up: --config-only)"
  exit 0
fi

BIN=$(cd "${1:-$ROOT/build/bin}" && pwd)
for b in mqadmin comet_interop; do
  [ -x "$BIN/$b" ] || fail "$BIN/$b is missing (build with -DCOMET_TESTS=ON)"
done
. "$HERE/docker_env.sh"
LIMIT=${COMET_COMPOSE_TEST_LIMIT:-2400}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/comet-compose-ctrl.XXXXXX")
PROJECT=cometctrl$$
COMPOSE_UP=0
WATCHDOG=
compose() { timeout 300 docker-compose -p "$PROJECT" -f "$FILE" "$@"; }
finish() {
  local rc=$?
  trap - EXIT INT TERM
  [ "$COMPOSE_UP" = 1 ] && compose_down "$rc" "" compose
  containers_end compose_controller_test "$rc" ""
}
trap finish EXIT
trap 'exit 1' INT TERM
watchdog_start compose_controller_test "$LIMIT"
containers_ready compose_controller_test "The controller compose deployment was only validated, not run."

log "building the images (deploy/Dockerfile, deploy/etcd/Dockerfile; cached layers are reused)"
t0=$SECONDS
{ timeout 1800 "$DOCKER" build -f "$ROOT/deploy/Dockerfile" --target build -t comet-build:controller-test "$ROOT" &&
  timeout 1800 "$DOCKER" build -f "$ROOT/deploy/Dockerfile" -t comet:controller-test "$ROOT" &&
  timeout 900 "$DOCKER" build -t comet-etcd:test "$ROOT/deploy/etcd"; } >"$WORK/build.log" 2>&1 ||
  { tail -n 30 "$WORK/build.log" >&2; fail "docker build"; }
ETCD_BYTES=$("$DOCKER" image inspect -f '{{.Size}}' comet-etcd:test)
log "images built in $((SECONDS - t0))s; etcd image $((ETCD_BYTES / 1000000)) MB"

P=$(free_port_block 60)
export COMPOSE_PROJECT_NAME=$PROJECT COMET_IMAGE=comet:controller-test COMET_ETCD_IMAGE=comet-etcd:test COMET_STORE_SIZES=dev
export COMET_PUBLISH_ADDR=127.0.0.1 COMET_ADVERTISED_HOST=127.0.0.1
export COMET_NAMESRV_PORT=$P
export COMET_BROKER_A1_VIP_PORT=$((P + 10)) COMET_BROKER_A1_PORT=$((P + 12))
export COMET_BROKER_A2_VIP_PORT=$((P + 20)) COMET_BROKER_A2_PORT=$((P + 22))
export COMET_BROKER_B1_VIP_PORT=$((P + 30)) COMET_BROKER_B1_PORT=$((P + 32))
export COMET_BROKER_B2_VIP_PORT=$((P + 40)) COMET_BROKER_B2_PORT=$((P + 42))
NS=127.0.0.1:$COMET_NAMESRV_PORT
# group_ok GROUP: a master and both replicas in the in-sync set
group_ok() {
  local out
  out=$("$BIN/mqadmin" getSyncStateSet -n "$NS" -b "$1" 2>&1) || return 1
  grep -q "^#SyncStateSetNums.2" <<<"$out" && ! grep -q "^#MasterAddr.(none)" <<<"$out"
}
master_port() { # GROUP: the listen port of its master
  "$BIN/mqadmin" getSyncStateSet -n "$NS" -b "$1" | sed -n 's/^#MasterAddr\t127\.0\.0\.1:\([0-9]*\)$/\1/p'
}
service_of_port() {
  case $1 in
    "$COMET_BROKER_A1_PORT") echo broker-a-1 ;; "$COMET_BROKER_A2_PORT") echo broker-a-2 ;;
    "$COMET_BROKER_B1_PORT") echo broker-b-1 ;; "$COMET_BROKER_B2_PORT") echo broker-b-2 ;;
  esac
}

log "docker-compose up (3 etcd members, name server :$P, brokers :$COMET_BROKER_A1_PORT.. in controller mode)"
t0=$SECONDS
COMPOSE_UP=1
compose up -d >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; fail "docker-compose up"; }
wait_until 300 "every service healthy" healthy etcd-1 etcd-2 etcd-3 namesrv broker-a-1 broker-a-2 broker-b-1 broker-b-2
wait_until 120 "broker-a: a master and both replicas in sync" group_ok broker-a
wait_until 120 "broker-b: a master and both replicas in sync" group_ok broker-b
UP_SECS=$((SECONDS - t0))
log "healthy, both groups led and in sync ${UP_SECS}s after up"
"$BIN/mqadmin" getSyncStateSet -n "$NS" >"$WORK/sss.txt" && cat "$WORK/sss.txt"
"$BIN/mqadmin" updateTopic -n "$NS" -c DefaultCluster -t CtrlTopic -r 4 -w 4 >/dev/null || fail "updateTopic CtrlTopic"

timeout 180 "$BIN/comet_interop" produce "$NS" CtrlTopic 500 >"$WORK/produce1.txt" 2>&1 ||
  { tail "$WORK/produce1.txt" >&2; fail "produce before the failover"; }

old_port=$(master_port broker-a)
old=$(service_of_port "$old_port")
[ -n "$old" ] || fail "cannot tell which container leads broker-a (port $old_port)"
log "killing broker-a's master ($old)"
t0=$SECONDS
"$DOCKER" kill "$(cid "$old")" >/dev/null
wait_until 60 "broker-a: a new master" bash -c \
  "p=\$('$BIN/mqadmin' getSyncStateSet -n $NS -b broker-a | sed -n 's/^#MasterAddr\t127\.0\.0\.1:\([0-9]*\)$/\1/p');
   [ -n \"\$p\" ] && [ \"\$p\" != $old_port ]"
FAILOVER_SECS=$((SECONDS - t0))
# bodies comet-500..999: the consumer below counts distinct bodies (the same
# 0..499 again could never make 1000)
timeout 180 "$BIN/comet_interop" produce "$NS" CtrlTopic 500 500 >"$WORK/produce2.txt" 2>&1 ||
  { tail "$WORK/produce2.txt" >&2; fail "produce after the failover"; }
log "new master of broker-a within ${FAILOVER_SECS}s (polled every 0.5 s); 500 more messages produced"

compose up -d --no-deps "$old" >/dev/null 2>&1 || fail "start $old again"
wait_until 180 "$old back in broker-a's in-sync set" group_ok broker-a
timeout 180 "$BIN/comet_interop" consume "$NS" CtrlTopic GID_CTRL 1000 120 >"$WORK/consume.txt" 2>&1 ||
  { tail "$WORK/consume.txt" >&2; fail "not all 1000 messages could be consumed"; }

log "docker-compose down -v"
compose down -v --remove-orphans >/dev/null 2>&1 || fail "docker-compose down -v"
COMPOSE_UP=0
echo "compose_controller_test: OK: healthy and led ${UP_SECS}s after up; broker-a failed over in ${FAILOVER_SECS}s;" \
  "the killed broker rejoined; 1000 messages produced and consumed"
