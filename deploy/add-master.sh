#!/usr/bin/env bash
# add-master.sh - add one broker group to a compose cluster and start it: the
# next free name (broker-c after broker-a and broker-b, then broker-d, ...)
# with its own named volume and its own ports. With docker-compose.yml (the
# default) a group is one master; with docker-compose-2m-2s.yml it is a master
# and its slave (broker-c and broker-c-s, like broker-a and broker-a-s there).
#
#   deploy/add-master.sh [-f COMPOSE_FILE] [--no-start]
#
# The services go to an override file beside the compose file:
# docker-compose.override.yml for docker-compose.yml, which docker-compose
# reads by itself when run from this folder (so `docker-compose ps`, `logs`
# and `down -v` include the new master); docker-compose-2m-2s.override.yml for
# docker-compose-2m-2s.yml, which later docker-compose calls must name too
# (COMPOSE_FILE=docker-compose-2m-2s.yml:docker-compose-2m-2s.override.yml, as
# this script says when it writes it). The file is rewritten from the group
# names in it, so a second call adds broker-d beside broker-c.
#
# Ports of the n-th group (a = 0): the master's COMET_BROKER_<X>_PORT, default
# 10911 + 10*n, and COMET_BROKER_<X>_VIP_PORT, default that port - 2
# (broker-c: 10931/10929); a slave's COMET_BROKER_<X>_S_PORT, default
# 11011 + 10*n, and COMET_BROKER_<X>_S_VIP_PORT (broker-c-s: 11031/11029).
# The variables are written into the services (with their defaults), so the
# same environment gives the same ports on every later docker-compose call.
# Environment: COMPOSE_FILE (its first file is the compose file, unless -f),
# COMET_COMPOSE_OVERRIDE (the override file to write), COMET_COMPOSE (the
# compose command: docker-compose, else `docker compose`), and every variable
# the compose file reads (COMPOSE_PROJECT_NAME, COMET_IMAGE, ...).
#
# Why a script and not `docker-compose up --scale broker=N`: a RocketMQ broker
# name is a durable identity tied to its data (its consume queues and offsets
# live in its store), and clients connect to the exact address it registers.
# --scale gives every replica the same command, the same published ports and
# the same volume, so replicas could neither have distinct names, nor ports
# equal to their published host ports, nor their own stores; deriving them at
# start-up from whichever container came first would let a restarted broker
# come back under another name on another broker's data.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BASE=
START=1
while [ $# -gt 0 ]; do
  case $1 in
    --no-start) START=0; shift ;;
    -f | --file) [ $# -ge 2 ] || { echo "add-master: $1 needs a compose file" >&2; exit 2; }; BASE=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "add-master: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$BASE" ] || BASE=${COMPOSE_FILE:+${COMPOSE_FILE%%:*}}
[ -n "$BASE" ] || BASE=docker-compose.yml
case $BASE in /*) ;; *) [ -f "$BASE" ] || BASE=$HERE/$BASE ;; esac
[ -f "$BASE" ] || { echo "add-master: no compose file $BASE" >&2; exit 2; }
BASE=$(cd "$(dirname "$BASE")" && pwd)/$(basename "$BASE")
DEFAULT_OVERRIDE=${BASE%.yml}.override.yml
OVERRIDE=${COMET_COMPOSE_OVERRIDE:-$DEFAULT_OVERRIDE}
# A compose file whose groups have slaves has a service broker-a-s; its name
# servers are the services named namesrv or namesrv-<n> (each listed once:
# its volume has the same name).
SLAVES=0
grep -q '^  broker-a-s:$' "$BASE" && SLAVES=1
NAMESRVS=$(sed -n 's/^  \(namesrv\(-[0-9]*\)\{0,1\}\):$/\1/p' "$BASE" | sort -u)
[ -n "$NAMESRVS" ] || { echo "add-master: no namesrv service in $BASE" >&2; exit 2; }

letters=abcdefghijklmnopqrstuvwxyz
names() { [ -f "$1" ] && sed -n 's/^  broker-\([a-z]\):$/\1/p' "$1" | sort -u || true; }
existing="$(names "$BASE") $(names "$OVERRIDE")"
extra=$(names "$OVERRIDE")
n=0
for l in $existing; do
  i=$(expr index "$letters" "$l")
  [ "$i" -gt "$n" ] && n=$i
done
[ "$n" -lt 26 ] || { echo "add-master: broker-z exists; no more names" >&2; exit 1; }
new=${letters:n:1}

# broker SERVICE GROUP ID ROLE PORT VIP EXTRA...: one broker service
broker() {
  local svc=$1 group=$2 id=$3 role=$4 P=$5 V=$6 ns addr="" x
  shift 6
  for ns in $NAMESRVS; do addr="${addr:+$addr;}$ns:9876"; done
  cat <<SVC
  $svc:
    image: \${COMET_IMAGE:-comet:latest}
    depends_on:
SVC
  for ns in $NAMESRVS; do
    printf '      %s:\n        condition: service_healthy\n' "$ns"
  done
  cat <<SVC
    command: ["mqbroker", "-c", "/etc/comet/broker.conf", "-c", "/etc/comet/store-\${COMET_STORE_SIZES:-production}.conf",
              "-o", "brokerName=$group", "-o", "brokerId=$id", "-o", "brokerRole=$role",
              "-o", "listenPort=$P",
              "-o", "brokerIP1=\${COMET_ADVERTISED_HOST:-127.0.0.1}",
SVC
  for x in "$@"; do printf '              "-o", "%s",\n' "$x"; done
  cat <<SVC
              "-o", "metricsExporterType=\${COMET_METRICS:-PROM}", "-o", "metricsPromExporterHost=0.0.0.0"]
    environment:
      NAMESRV_ADDR: $addr
      COMET_VIP_PORT: "$V"
    ports:
      - "\${COMET_PUBLISH_ADDR:-0.0.0.0}:$P:$P"
      - "\${COMET_PUBLISH_ADDR:-0.0.0.0}:$V:$V"
    volumes:
      - $svc:/var/lib/comet
    healthcheck:
      test: ["CMD", "comet-healthcheck"]
      interval: 5s
      timeout: 5s
      retries: 3
      start_period: 60s
    restart: unless-stopped
    stop_grace_period: 30s

SVC
}

group() { # letter index: the services of group broker-<letter>
  local l=$1 i=$2 U
  U=$(echo "$l" | tr a-z A-Z)
  if [ "$SLAVES" = 0 ]; then
    broker "broker-$l" "broker-$l" 0 ASYNC_MASTER \
      "\${COMET_BROKER_${U}_PORT:-$((10911 + 10 * i))}" "\${COMET_BROKER_${U}_VIP_PORT:-$((10909 + 10 * i))}"
  else
    broker "broker-$l" "broker-$l" 0 "\${COMET_MASTER_ROLE:-SYNC_MASTER}" \
      "\${COMET_BROKER_${U}_PORT:-$((10911 + 10 * i))}" "\${COMET_BROKER_${U}_VIP_PORT:-$((10909 + 10 * i))}" \
      "brokerIP2=broker-$l" "haListenPort=10912"
    broker "broker-$l-s" "broker-$l" 1 SLAVE \
      "\${COMET_BROKER_${U}_S_PORT:-$((11011 + 10 * i))}" "\${COMET_BROKER_${U}_S_VIP_PORT:-$((11009 + 10 * i))}" \
      "haMasterAddress=broker-$l:10912"
  fi
}
services() { # letter: the service names of a group
  if [ "$SLAVES" = 0 ]; then echo "broker-$1"; else echo "broker-$1 broker-$1-s"; fi
}

tmp=$(mktemp "$OVERRIDE.XXXXXX")
{
  echo "# Generated by deploy/add-master.sh: the broker groups added to $(basename "$BASE")'s."
  echo "# Edit with care; add-master.sh rewrites this file from the group names in it."
  echo 'version: "2.4"'
  echo "services:"
  for l in $extra $new; do group "$l" "$(($(expr index "$letters" "$l") - 1))"; done
  echo "volumes:"
  for l in $extra $new; do
    for s in $(services "$l"); do echo "  $s:"; done
  done
} >"$tmp"
mv "$tmp" "$OVERRIDE"
echo "add-master: $(services "$new" | sed 's/ / and /') added to $OVERRIDE"

if [ -n "${COMET_COMPOSE:-}" ]; then
  read -r -a compose <<<"$COMET_COMPOSE"
elif command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
else
  compose=(docker compose)
fi
"${compose[@]}" -f "$BASE" -f "$OVERRIDE" config -q
if [ "$START" = 1 ]; then
  # shellcheck disable=SC2046
  "${compose[@]}" -f "$BASE" -f "$OVERRIDE" up -d $(services "$new")
  echo "add-master: $(services "$new" | sed 's/ / and /') started; brokers register with the name servers once healthy"
fi
if [ "$OVERRIDE" != "$HERE/docker-compose.override.yml" ]; then
  echo "add-master: name both files in later docker-compose calls, e.g."
  echo "  export COMPOSE_FILE=$BASE:$OVERRIDE"
fi
