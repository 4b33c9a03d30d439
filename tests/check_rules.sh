#!/usr/bin/env bash
# tests/check_rules.sh - the house rules of tests/README that a tool can
# check, over every test source (C and JavaScript). Exits 1 and lists each
# violation as file:line: rule.
#
#   sleep     no sleep(), usleep(), nanosleep(), sleep_ms()... in tests: wait
#             with TH_WAIT_UNTIL (a polled condition with a bound); pacing
#             that is not synchronisation uses th_pace_ms(ms, "why").
#             JavaScript: no `await sleep(` / `await delay(`: waitFor(cond,
#             ms) polls, pace(ms, 'why') paces.
#   timing    no upper-bound assertion on a duration (waited < N, took < N,
#             cr_assert_lt(elapsed...)): speed is measured in benchmarks.
#   skip      cr_skip_test / cr_skip names what is missing (a message).
#   tmp       no temp files or directories made under a hard-coded /tmp
#             path: th_tmpdir() makes per-test directories that are removed
#             when the test passes.
set -uo pipefail
cd "$(dirname "$0")"

# Not tests: test_support.c holds the one poll pause and th_pace_ms;
# comet_interop.c is a client program the interop test runs for a time;
# fault_preload.c is the hanging disk itself.
mapfile -t csrc < <(find . \( -name '*.c' -o -name '*.h' \) -not -path './support/test_support.c' \
                      -not -path './support/fault_preload.c' -not -path './compat/client/comet_interop.c' \
                      -not -path '*/node_modules/*' | sort)
mapfile -t jssrc < <(find . -name '*.js' -not -path '*/node_modules/*' | sort)

# One awk pass. C: // and single-line /* */ comments are stripped before
# matching (good enough for this code base).
awk '
function report(rule, why) {
    line = $0; gsub(/[ \t]+/, " ", line)
    printf "tests/%s:%d: %s: %s (%s)\n", substr(FILENAME, 3), FNR, rule, why, line > "/dev/stderr"
    bad++
}
FILENAME ~ /\.js$/ {
    if ($0 ~ /await[ \t]+(sleep|delay)[ \t]*\(/)
        report("sleep", "a fixed pause; poll a condition with waitFor(cond, ms), pace(ms, why) for pacing")
    next
}
{
    s = $0
    gsub(/\/\/.*$/, "", s)
    gsub(/\/\*.*\*\//, "", s)
    if (s ~ /(^|[^_a-zA-Z])(u?sleep|nanosleep|sleep_ms|msleep|sleep_us)[ \t]*\(/)
        report("sleep", "a fixed pause; poll a condition with TH_WAIT_UNTIL, or th_pace_ms for pacing")
    if (s ~ /cr_(assert|expect)(_lt|_leq)[ \t]*\(.*(mono_|now_ms|waited|took|elapsed|duration|t0)/ ||
        s ~ /cr_(assert|expect)[ \t]*\(.*(waited|took|elapsed|duration|mono_ms\(\)[ \t]*-[ \t]*t0)[^,]*</)
        report("timing", "an upper bound on a duration; measure speed in a benchmark")
    if (s ~ /cr_skip(_test)?[ \t]*\([ \t]*(\)|"")/)
        report("skip", "a skip must say what is missing")
    if (s ~ /"\/tmp\// && s ~ /(mkdtemp|mkstemp|mkdir|printf|strcpy|open|fopen)[ \t]*\(/)
        report("tmp", "a hard-coded /tmp path; use th_tmpdir()")
}
END { exit bad > 0 }
' "${csrc[@]}" "${jssrc[@]}"
rc=$?
if [ "$rc" -ne 0 ]; then
  echo "check_rules: violations above (the rules are in tests/README)" >&2
  exit 1
fi
echo "check_rules: ${#csrc[@]} C and ${#jssrc[@]} JavaScript test sources follow the rules"
