# tests/deploy/lib.sh - helpers shared by the deployment tests (sourced).

log() { echo "[$(date +%H:%M:%S)] $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# port_block_free FIRST LAST: no TCP socket listens on 127.0.0.1/any in [FIRST, LAST]
port_block_free() {
  ! ss -Htln 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }' |
    awk -v lo="$1" -v hi="$2" '$1 >= lo && $1 <= hi { found = 1 } END { exit !found }'
}

# free_port_block WIDTH: print the first port of WIDTH consecutive free ports
# (random start in 20000..31999, below Linux's ephemeral range 32768-60999,
# so that other tests' outgoing connections and bind-to-0 listeners cannot
# take them between this check and their use; at most 50 tries).
free_port_block() {
  local width=$1 base
  for _ in $(seq 1 50); do
    base=$((20000 + RANDOM % (12000 - width)))
    if port_block_free "$base" $((base + width - 1)); then
      echo "$base"
      return 0
    fi
  done
  fail "no block of $width free ports found"
}

# wait_until SECONDS DESCRIPTION CMD...: poll CMD every 0.5 s until it
# succeeds; fail with DESCRIPTION after SECONDS.
wait_until() {
  local secs=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$what: not true within ${secs}s"
    sleep 0.5
  done
}

# running PID: the process exists and is not a zombie waiting to be reaped
running() {
  local st
  st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}
