#!/bin/sh
# run.sh [SECONDS] [extra libFuzzer args...]
# Configure a separate clang build (COMET_FUZZ=ON, COMET_SANITIZE=ON) in
# build-fuzz/ (override with COMET_FUZZ_BUILD=dir), build fuzz_cmd, make the
# seed corpus from tests/data and fuzz rmq_cmd_decode for SECONDS (default
# 60). Exits non-zero if the fuzzer finds a crash, leak, UB or failed check;
# the reproducer is left in the build dir as crash-*/leak-*/timeout-*.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
build=${COMET_FUZZ_BUILD:-$src/build-fuzz}
jobs=${COMET_FUZZ_JOBS:-2}

cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCOMET_FUZZ=ON -DCOMET_SANITIZE=ON >/dev/null
cmake --build "$build" -j"$jobs" --target fuzz_cmd

exe=$(find "$build" -type f -name fuzz_cmd -perm -u+x | head -n 1)
[ -n "$exe" ] || { echo "run.sh: fuzz_cmd not built" >&2; exit 2; }
corpus=$build/tests/fuzz/corpus_cmd
"$here/make_corpus.sh" "$corpus"

echo "run.sh: fuzzing $exe for ${secs}s (corpus $corpus)"
# -max_total_time bounds the run; libFuzzer exits non-zero on any finding.
"$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -dict="$here/fuzz_cmd.dict" -artifact_prefix="$build/tests/fuzz/" "$@" "$corpus"
