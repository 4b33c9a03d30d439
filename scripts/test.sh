#!/usr/bin/env bash
# Install what is missing, build, and run every Comet test:
#   1. every ctest suite (unit + integration with real processes) under
#      AddressSanitizer + UndefinedBehaviorSanitizer with gcov line counts (build-asan/):
#      a crash at shutdown or in recovery, a leak or UB in a server fails its test
#   2. every ctest suite again on the normal build (build/): the timing-sensitive paths at full speed
#   3. the fuzzers (frame decoder; properties/JSON text; HTTP; ACL YAML loader and request path) for a
#      bounded time (clang libFuzzer, ASan/UBSan)
#   4. compatibility tests with real RocketMQ clients from npm (tests/compat/)
#   5. observability: metrics and mqconsole with Node.js, Chromium and promtool (tests/browser/)
#   6. deployment: the local launcher, the Kubernetes manifests, and the
#      docker-compose cluster in real containers (tests/deploy/)
#   7. coverage: every request code of README.md's tables must have been handled by a process of
#      this run; the settings no test sets and the lcov line report of step 1 are listed
#      (build/test-artifacts/coverage/)
# Exits non-zero if anything fails; a skipped test is a failure unless
# COMET_ALLOW_SKIP says why skips are acceptable here (tests/README).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=$(nproc)
FUZZ_SECONDS=${COMET_FUZZ_SECONDS:-60}
stage() { echo; echo "== [+$((SECONDS / 60))m$((SECONDS % 60))s] $* =="; }

scripts/deps.sh --test

# Formatting (scripts/check-format.sh, clang-format 14 from Debian, pinned):
# a C file that differs from clang-format's output fails the run
# (COMET_CHECK_FORMAT=0 skips it for a local run, saying so).
if [ "${COMET_CHECK_FORMAT:-1}" = 0 ]; then
  echo "!! format check SKIPPED (COMET_CHECK_FORMAT=0)"
else
  stage "format (clang-format 14)"
  scripts/check-format.sh
fi

# Every process started by this run (servers, libcomet, tools) appends the
# request codes it handles and the settings it is given here
# (common/rmq_covtrace.h); skipped tests are listed in skips.log.
ART=$ROOT/build/test-artifacts
COV=$ART/coverage
rm -rf "$COV" "$ART/skips.log"
mkdir -p "$COV"
export COMET_COVERAGE_TRACE=$COV/trace
export COMET_SKIP_LOG=$ART/skips.log

stage "build (RelWithDebInfo)"
BUILD_DIR=build scripts/build.sh -DCOMET_TESTS=ON

stage "build (ASan/UBSan, gcov)"
BUILD_DIR=build-asan BUILD_TYPE=Debug scripts/build.sh -DCOMET_SANITIZE=ON -DCOMET_COVERAGE=ON -DCOMET_TESTS=ON
find build-asan -name '*.gcda' -delete # line counts of this run only

stage "all tests under ASan/UBSan (unit + integration, real processes; build-asan)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/lsan.supp:print_suppressions=0}
(cd build-asan && ctest -LE 'fuzz|install' --output-on-failure -j"$JOBS")

stage "all tests (unit + integration, real processes; build)"
(cd build && ctest -LE fuzz --output-on-failure -j"$JOBS")

# The runners are started through their interpreter: a lost exec bit must
# not turn a stage into a silent no-op.
fuzz() { # target seconds what
  stage "fuzz: $3 ($1), $2s"
  COMET_FUZZ_TARGET=$1 sh tests/fuzz/run.sh "$2"
}
fuzz fuzz_cmd "$FUZZ_SECONDS" "frame decoder"
fuzz fuzz_text "$((FUZZ_SECONDS / 2))" "properties / JSON text"
fuzz fuzz_http "$((FUZZ_SECONDS / 2))" "HTTP request parser of /metrics and mqconsole"
fuzz fuzz_acl_yaml "$((FUZZ_SECONDS / 2))" "plain_acl.yml loader and white-address patterns"
fuzz fuzz_acl_req "$((FUZZ_SECONDS / 2))" "a request's ACL path - signed content, signature, resources"
fuzz fuzz_ns_body "$((FUZZ_SECONDS / 2))" "the name server's REGISTER_BROKER body decoder"

for runner in tests/compat/run.sh tests/compat/client/run.sh; do
  stage "compat: $runner"
  st=0
  sh "$runner" || st=$?
  # 77 is the runners' "skipped": node/npm are installed above, so it is a failure here
  [ "$st" -eq 0 ] || { echo "!! $runner failed or skipped (exit $st)"; exit 1; }
done

stage "observability: metrics parsed while producing, mqconsole in headless Chromium, flood report (tests/browser/run.sh)"
sh tests/browser/run.sh build/bin "$ART/browser"

stage "deploy: local launcher, -o and \${VAR} settings (tests/deploy/cluster_test.sh)"
bash tests/deploy/cluster_test.sh build/bin

stage "deploy: Kubernetes manifests (tests/deploy/k8s_test.sh)"
bash tests/deploy/k8s_test.sh

# A test in real containers: exit 77 (the kernel refuses containers) is a
# loud skip, logged in skips.log, not a pass; any other failure ends the run.
containers() { # name what
  stage "deploy: $2 (tests/deploy/$1.sh)"
  local rc=0
  bash "tests/deploy/$1.sh" build/bin || rc=$?
  if [ "$rc" -eq 77 ]; then
    echo "!! $1 SKIPPED: the kernel refuses containers (reason above); NOT counted as a pass"
    echo "COMET-SKIP $1: the kernel refuses containers" >>"$COMET_SKIP_LOG"
  elif [ "$rc" -ne 0 ]; then
    exit "$rc"
  fi
}
containers compose_test "docker-compose cluster in real containers"
containers compose_controller_test "controller-mode compose cluster"

stage "coverage: request codes and settings exercised by this run ($COV/codes.md)"
bash scripts/coverage.sh codes "$COMET_COVERAGE_TRACE" "$COV/codes.md"
stage "coverage: lines and functions of the ASan/UBSan run (lcov, $COV/html)"
bash scripts/coverage.sh lcov build-asan "$COV"

stage "done"
if [ -s "$COMET_SKIP_LOG" ]; then
  echo "comet: all tests that ran passed; SKIPPED (not passes):"
  cat "$COMET_SKIP_LOG"
  if [ -z "${COMET_ALLOW_SKIP:-}" ]; then
    echo "comet: a skip fails the run unless COMET_ALLOW_SKIP=<why> says it is expected here (tests/README)"
    exit 1
  fi
else
  echo "comet: all tests passed"
fi
