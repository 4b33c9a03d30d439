#!/usr/bin/env bash
# tests/deploy/k8s_test.sh - deploy/k8s/ checked without a cluster:
# 1. yamllint (Debian's yamllint) on every manifest and compose file;
# 2. tests/deploy/k8s/validate.js: Kubernetes schemas from kubernetes-models
#    (pinned in tests/deploy/k8s/package-lock.json) plus cross-object checks;
# 3. each broker group's start script (from its ConfigMap, as the pod runs it:
#    sh, POD_NAME and POD_IP from the downward API) for ordinals 0, 1 and 2,
#    with the real mqbroker printing the settings it would run with (-p):
#    ordinal 0 must be brokerId 0 with a master role, every other ordinal
#    brokerId = ordinal, SLAVE, replicating from ordinal 0's DNS name under
#    the headless Service; all of the group's brokerName, the pod IP as
#    brokerIP1, logs to stderr. A pod name without an ordinal is refused.
#
#   tests/deploy/k8s_test.sh [bin dir]     (default: build/bin; needs mqbroker)
#
# Fails on any lint error, schema error, inconsistency between objects, or a
# start script that gives a pod the wrong identity or role.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=$(cd "${1:-$ROOT/build/bin}" && pwd)
. "$HERE/lib.sh"
command -v yamllint >/dev/null 2>&1 || fail "k8s_test: yamllint missing (scripts/deps.sh --test)"
[ -x "$BIN/mqbroker" ] || fail "k8s_test: $BIN/mqbroker is missing (build first)"
yamllint -s -c "$HERE/yamllint.yml" "$ROOT/deploy/k8s" "$ROOT/deploy/docker-compose.yml" \
  "$ROOT/deploy/docker-compose-2m-2s.yml"
echo "k8s_test: yamllint OK"
if [ ! -d "$HERE/k8s/node_modules/kubernetes-models" ]; then
  (cd "$HERE/k8s" && timeout 300 npm ci --no-audit --no-fund >/dev/null)
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/comet-k8s-test.XXXXXX")
trap 'rc=$?; if [ $rc -eq 0 ]; then rm -rf "$WORK"; else echo "k8s_test: FAILED; files kept in $WORK" >&2; fi' EXIT
timeout 120 node "$HERE/k8s/validate.js" "$ROOT/deploy/k8s" --write-configmaps "$WORK/cm"

# mqbroker as the start script execs it, plus -p: print the effective
# settings and exit instead of serving
mkdir -p "$WORK/stub"
printf '#!/bin/sh\nexec "%s" "$@" -p\n' "$BIN/mqbroker" >"$WORK/stub/mqbroker"
chmod +x "$WORK/stub/mqbroker"
groups=0
for script in "$WORK"/cm/*/start-broker.sh; do
  [ -f "$script" ] || continue
  set_name=$(basename "$(dirname "$script")")
  group=$(sed -n 's/^brokerName=//p' "$(dirname "$script")/broker.conf")
  [ -n "$group" ] || fail "$set_name: no brokerName in its broker.conf"
  for ordinal in 0 1 2; do
    what="$set_name pod $set_name-$ordinal"
    out=$(POD_NAME=$set_name-$ordinal POD_IP=10.1.2.$((ordinal + 3)) PATH="$WORK/stub:$PATH" sh "$script" 2>&1) ||
      fail "$what: the start script failed: $out"
    get() { sed -n "s/^$1=//p" <<<"$out"; }
    [ "$(get brokerName)" = "$group" ] || fail "$what: brokerName $(get brokerName), want $group"
    [ "$(get brokerId)" = "$ordinal" ] || fail "$what: brokerId $(get brokerId), want $ordinal"
    [ "$(get brokerIP1)" = "10.1.2.$((ordinal + 3))" ] || fail "$what: brokerIP1 $(get brokerIP1), want the pod IP"
    [ -z "$(get logFile)" ] || fail "$what: logs to $(get logFile), not stderr"
    if [ "$ordinal" -eq 0 ]; then
      case $(get brokerRole) in SYNC_MASTER | ASYNC_MASTER) ;; *) fail "$what: role $(get brokerRole), want a master" ;; esac
    else
      [ "$(get brokerRole)" = SLAVE ] || fail "$what: role $(get brokerRole), want SLAVE"
      [ "$(get haMasterAddress)" = "$set_name-0.$set_name:$(get haListenPort)" ] ||
        fail "$what: haMasterAddress $(get haMasterAddress), want $set_name-0.$set_name:$(get haListenPort)"
    fi
  done
  st=0
  out=$(POD_NAME=$set_name POD_IP=10.1.2.3 PATH="$WORK/stub:$PATH" sh "$script" 2>&1) || st=$?
  [ "$st" -ne 0 ] && grep -q "no ordinal" <<<"$out" || fail "$set_name: a pod name without an ordinal: exit $st: $out"
  groups=$((groups + 1))
done
[ "$groups" -gt 0 ] || fail "no broker start script in deploy/k8s"
echo "k8s_test: OK ($groups broker groups: ordinal 0 master, ordinals 1 and 2 slaves of it)"
