#!/bin/sh
# run.sh [SECONDS] [extra libFuzzer args...]
# Configure a separate clang build (COMET_FUZZ=ON, COMET_SANITIZE=ON) in
# build-fuzz/ (override with COMET_FUZZ_BUILD=dir), build the target
# (COMET_FUZZ_TARGET, default fuzz_cmd; or fuzz_text, fuzz_http, fuzz_acl_yaml,
# fuzz_acl_req, fuzz_ns_body), prepare its seed corpus
# and fuzz for SECONDS (default 60). Exits non-zero if the fuzzer finds a
# crash, leak, UB or failed check; the reproducer is left in
# <build>/tests/fuzz/ as crash-*/leak-*/timeout-*. Reproduce with
#   <build>/bin/fuzz_cmd <file>
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
build=${COMET_FUZZ_BUILD:-$src/build-fuzz}
jobs=${COMET_FUZZ_JOBS:-2}
target=${COMET_FUZZ_TARGET:-fuzz_cmd}

cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCOMET_FUZZ=ON -DCOMET_SANITIZE=ON >/dev/null
cmake --build "$build" -j"$jobs" --target "$target"

exe=$(find "$build" -type f -name "$target" -perm -u+x | head -n 1)
[ -n "$exe" ] || { echo "run.sh: $target not built" >&2; exit 2; }
out=$build/tests/fuzz
case $target in
  fuzz_cmd)
    corpus=$out/corpus_cmd
    "$here/make_corpus.sh" "$corpus"
    set -- -dict="$here/fuzz_cmd.dict" "$@" "$corpus" ;;
  fuzz_text)
    corpus=$out/corpus_text
    mkdir -p "$corpus"
    set -- "$@" "$corpus" "$here/seeds_text" ;;
  fuzz_http)
    corpus=$out/corpus_http
    mkdir -p "$corpus"
    set -- "$@" "$corpus" "$here/seeds_http" ;;
  fuzz_acl_yaml)
    corpus=$out/corpus_acl_yaml
    mkdir -p "$corpus"
    set -- "$@" "$corpus" "$here/seeds_acl_yaml" ;;
  fuzz_acl_req)
    corpus=$out/corpus_acl_req
    mkdir -p "$corpus"
    set -- -dict="$here/fuzz_cmd.dict" "$@" "$corpus" "$here/seeds_acl_req" ;;
  fuzz_ns_body)
    corpus=$out/corpus_ns_body
    mkdir -p "$corpus"
    set -- "$@" "$corpus" "$here/seeds_ns_body" ;;
  *) echo "run.sh: unknown target $target" >&2; exit 2 ;;
esac

echo "run.sh: fuzzing $exe for ${secs}s"
# -max_total_time bounds the run; libFuzzer exits non-zero on any finding.
"$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$out/" "$@"
