#!/usr/bin/env bash
# Install what is missing, build, and run every Comet test:
#   1. unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
#   2. every ctest suite (unit + integration with real processes) on the normal build (build/)
#   3. the fuzzers (frame decoder; properties/JSON text) for a bounded time (clang libFuzzer, ASan/UBSan)
#   4. compatibility tests with real RocketMQ clients from npm (tests/compat/)
# Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=$(nproc)
FUZZ_SECONDS=${COMET_FUZZ_SECONDS:-60}

scripts/deps.sh --test

echo "== build (RelWithDebInfo) =="
BUILD_DIR=build scripts/build.sh -DCOMET_TESTS=ON

echo "== build (ASan/UBSan) =="
BUILD_DIR=build-asan BUILD_TYPE=Debug scripts/build.sh -DCOMET_SANITIZE=ON -DCOMET_TESTS=ON

echo "== unit tests under ASan/UBSan =="
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/lsan.supp:print_suppressions=0}
(cd build-asan && ctest -L unit --output-on-failure -j"$JOBS")

echo "== all tests (unit + integration, real processes) =="
(cd build && ctest -LE fuzz --output-on-failure -j"$JOBS")

if [ -x tests/fuzz/run.sh ]; then
  echo "== fuzz: frame decoder (fuzz_cmd), ${FUZZ_SECONDS}s =="
  COMET_FUZZ_TARGET=fuzz_cmd tests/fuzz/run.sh "$FUZZ_SECONDS"
  echo "== fuzz: properties / JSON text (fuzz_text), $((FUZZ_SECONDS / 2))s =="
  COMET_FUZZ_TARGET=fuzz_text tests/fuzz/run.sh "$((FUZZ_SECONDS / 2))"
fi

for runner in tests/compat/run.sh tests/compat/client/run.sh; do
  if [ -x "$runner" ]; then
    echo "== compat: $runner =="
    "$runner"
  fi
done

if [ -f deploy/docker-compose.yml ]; then
  echo "== docker-compose config =="
  docker-compose -f deploy/docker-compose.yml config -q
fi
echo "comet: all tests passed"
