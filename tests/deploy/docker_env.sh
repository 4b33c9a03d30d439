# tests/deploy/docker_env.sh - a Docker engine and the debian:12-slim base
# image for the container tests (sourced; needs lib.sh).
#
# docker_up: use the engine at $DOCKER_HOST or the default socket when one
#   answers; otherwise install docker.io if missing and start our own dockerd
#   (socket /var/run/comet-docker.sock, data in /var/lib/comet-docker so
#   images and build cache survive between runs), remembering its PID.
#   Returns 3 (after saying why, loudly) when the kernel refuses containers.
# docker_down: stop the dockerd that docker_up started, by PID; nothing else.
# base_image: make sure debian:12-slim exists: pull it, or, with no registry
#   reachable, build it with debootstrap --variant=minbase bookworm and
#   docker import it (kept by the engine for the next run).
# containers_ready TEST UNTESTED: docker_up, base_image, and one plain
#   container run. When the kernel refuses containers: a loud skip naming
#   TEST and what was UNTESTED, exit 77; any other failure fails.
# cid SERVICE: the container of a service of project $COMPOSE_PROJECT_NAME
#   (docker ps: much faster than docker-compose ps).
# healthy SERVICE...: every one's container reports healthy.
# compose_down RC SUFFIX COMPOSE: a compose project's teardown in an EXIT
#   trap: on a failure (RC neither 0 nor 77) `COMPOSE ps` and `COMPOSE logs`
#   kept in $WORK/ps$SUFFIX.txt and compose$SUFFIX.log; then `COMPOSE down -v`
#   (COMPOSE: the test's docker-compose wrapper for that project).
# containers_end TEST RC KEPT: the end of a container test's EXIT trap: the
#   watchdog and our dockerd stopped, $WORK removed on a pass or a skip (else
#   its place said, KEPT naming what it holds), exit RC.
# watchdog_start TEST LIMIT: after LIMIT seconds, say so and TERM this shell
#   (the test's EXIT trap cleans up); WATCHDOG holds the PID to kill at the end.

COMET_DOCKERD_PID=
COMET_DOCKER_SOCK=/var/run/comet-docker.sock
COMET_DOCKER_ROOT=${COMET_DOCKER_ROOT:-/var/lib/comet-docker}
# Debian's client (the one docker.io installs); another docker earlier in PATH
# may speak a newer API than Debian's engine.
DOCKER=${DOCKER:-$([ -x /usr/bin/docker ] && echo /usr/bin/docker || command -v docker || echo docker)}

docker_answers() { timeout 20 "$DOCKER" version >/dev/null 2>&1; }

docker_up() {
  if [ -n "${DOCKER_HOST:-}" ] && docker_answers; then
    log "docker: using the engine at $DOCKER_HOST"
    return 0
  fi
  unset DOCKER_HOST
  if [ -S /var/run/docker.sock ] && docker_answers; then
    log "docker: using the running engine at /var/run/docker.sock"
    return 0
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    log "docker: installing docker.io"
    [ "$(id -u)" -eq 0 ] || { echo "docker: not root and docker.io missing" >&2; return 1; }
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      docker.io iptables >/dev/null || return 1
    DOCKER=/usr/bin/docker
  fi
  export DOCKER_HOST=unix://$COMET_DOCKER_SOCK
  if docker_answers; then
    log "docker: using the engine at $DOCKER_HOST (started earlier)"
    return 0
  fi
  local logf=${COMET_DOCKERD_LOG:-/var/log/comet-dockerd.log}
  mkdir -p "$COMET_DOCKER_ROOT"
  log "docker: starting dockerd (socket $COMET_DOCKER_SOCK, data $COMET_DOCKER_ROOT, log $logf)"
  dockerd --host="$DOCKER_HOST" --data-root="$COMET_DOCKER_ROOT" --exec-root=/var/run/comet-docker \
    --pidfile=/var/run/comet-docker.pid >"$logf" 2>&1 &
  COMET_DOCKERD_PID=$!
  local deadline=$((SECONDS + 60))
  until docker_answers; do
    if ! kill -0 "$COMET_DOCKERD_PID" 2>/dev/null; then
      COMET_DOCKERD_PID=
      echo "docker: dockerd exited at start-up; its log ($logf) ends with:" >&2
      tail -n 15 "$logf" >&2
      if grep -qiE "operation not permitted|cgroup|overlay.*not supported|failed to create NAT chain|iptables" "$logf"; then
        return 3
      fi
      return 1
    fi
    [ "$SECONDS" -lt "$deadline" ] || { echo "docker: dockerd did not answer within 60s" >&2; return 1; }
    sleep 0.5
  done
  # can this kernel run a container at all? (namespaces, cgroups, seccomp)
  return 0
}

docker_down() {
  [ -n "$COMET_DOCKERD_PID" ] || return 0
  log "docker: stopping the dockerd this test started (pid $COMET_DOCKERD_PID)"
  kill -TERM "$COMET_DOCKERD_PID" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$COMET_DOCKERD_PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.5; done
  kill -KILL "$COMET_DOCKERD_PID" 2>/dev/null || true
  COMET_DOCKERD_PID=
}

containers_skip() { # TEST UNTESTED REASON
  echo "" >&2
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
  echo "!! SKIPPED $1: the kernel refuses containers here: $3" >&2
  echo "!! $2 This is not a pass." >&2
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
  exit 77
}

containers_ready() {
  local st=0 out
  docker_up || st=$?
  [ "$st" -eq 3 ] && containers_skip "$1" "$2" "dockerd could not start (see its log above)"
  [ "$st" -eq 0 ] || fail "no Docker engine"
  base_image || fail "no debian:12-slim base image"
  if ! out=$(timeout 120 "$DOCKER" run --rm --network none debian:12-slim true 2>&1); then
    grep -qiE "operation not permitted|permission denied|cgroup|namespace|seccomp" <<<"$out" &&
      containers_skip "$1" "$2" "$out"
    fail "a plain container does not run: $out"
  fi
}

watchdog_start() {
  ( # killing this subshell also ends its sleep
    trap 'kill "$s" 2>/dev/null; exit 0' TERM
    sleep "$2" &
    s=$!
    wait "$s" && echo "$1: ${2}s bound reached" >&2 && kill -TERM $$
  ) &
  WATCHDOG=$!
}

cid() {
  "$DOCKER" ps -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME" \
    --filter "label=com.docker.compose.service=$1"
}

healthy() {
  local s c
  for s in "$@"; do
    c=$(cid "$s") && [ -n "$c" ] || return 1
    [ "$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$c")" = healthy ] || return 1
  done
}

compose_down() {
  if [ "$1" -ne 0 ] && [ "$1" -ne 77 ]; then
    "$3" ps >"$WORK/ps$2.txt" 2>&1 || true
    "$3" logs --no-color >"$WORK/compose$2.log" 2>&1 || true
  fi
  "$3" down -v --remove-orphans >/dev/null 2>&1 || true
}

containers_end() {
  [ -z "${WATCHDOG:-}" ] || kill "$WATCHDOG" 2>/dev/null || true
  docker_down
  if [ "$2" -eq 0 ] || [ "$2" -eq 77 ]; then
    rm -rf "$WORK"
  else
    echo "$1: FAILED (exit $2); logs kept in $WORK${3:+ ($3)}" >&2
  fi
  exit "$2"
}

base_image() {
  local img=debian:12-slim
  if "$DOCKER" image inspect "$img" >/dev/null 2>&1; then
    log "base image: $img present"
    return 0
  fi
  if timeout 60 "$DOCKER" pull -q "$img" >/dev/null 2>&1; then
    log "base image: pulled $img"
    return 0
  fi
  log "base image: no registry reachable; building $img with debootstrap --variant=minbase bookworm (a few minutes, once)"
  command -v debootstrap >/dev/null 2>&1 ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  local root
  root=$(mktemp -d "${TMPDIR:-/tmp}/comet-rootfs.XXXXXX")
  local mirror=${COMET_DEBIAN_MIRROR:-$(awk '/^deb / && /bookworm/ { print $2; exit }' /etc/apt/sources.list \
    /etc/apt/sources.list.d/*.list 2>/dev/null)}
  if [ -z "$mirror" ]; then
    mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null)
  fi
  if ! timeout 900 debootstrap --variant=minbase bookworm "$root" ${mirror:+"$mirror"} >"$root.log" 2>&1; then
    echo "base image: debootstrap failed; end of $root.log:" >&2
    tail -n 20 "$root.log" >&2
    rm -rf "$root"
    return 1
  fi
  # slim it the way the official -slim image is: no apt lists, docs, man pages
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log
  tar -C "$root" -c . | "$DOCKER" import -c 'CMD ["bash"]' - "$img" >/dev/null || { rm -rf "$root"; return 1; }
  rm -rf "$root" "$root.log"
  log "base image: $img imported ($("$DOCKER" image inspect -f '{{.Size}}' "$img") bytes)"
}
