#!/usr/bin/env bash
# scripts/coverage.sh - the test suite's coverage report.
#
#   scripts/coverage.sh codes <trace> [report.md]
#       <trace> is the file the processes of a test run appended to
#       (COMET_COVERAGE_TRACE, see common/rmq_covtrace.h: "code N" for each
#       request code a server or client handled, "setting KEY" for each
#       setting given a value). Lists every request code of README.md's
#       tables that no test sent, and the settings of CONFIGURATION.md that
#       no test sets (settings marked "no effect" are left out). Exits 1 if
#       a README request code was never exercised.
#   scripts/coverage.sh lcov <build dir> <out dir>
#       Line and function coverage of a --coverage build (gcov data left by
#       the test run) with lcov: <out dir>/coverage.info, an HTML report in
#       <out dir>/html, and the summary on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

codes() {
  local trace=$1 out=${2:-/dev/null}
  [ -f "$trace" ] || { echo "coverage: no trace file $trace (was COMET_COVERAGE_TRACE set?)" >&2; exit 2; }
  # README request-code tables: rows "| 10, 310, 320 | NAME... | notes |"
  # under "### Name server" and "### Broker" (the "other" row is not a code).
  local readme
  readme=$(awk '
    /^### / { section = ($0 ~ /Name server/) ? "namesrv" : ($0 ~ /^### Broker/) ? "broker" : "" ; next }
    section != "" && /^\| *[0-9]/ {
      split($0, col, "|"); n = split(col[2], c, ",")
      for (i = 1; i <= n; i++) { gsub(/[ \t]/, "", c[i]); if (c[i] ~ /^[0-9]+$/) print section, c[i] }
    }' README.md)
  local seen
  seen=$(awk '$1 == "code" { print $2 }' "$trace" | sort -un)
  local missing=() total=0
  while read -r where code; do
    [ -n "$code" ] || continue
    total=$((total + 1))
    grep -qx "$code" <<<"$seen" || missing+=("$where:$code")
  done <<<"$readme"
  # settings with an effect (CONFIGURATION.md rows not marked "no effect")
  local all_settings set_settings unset=()
  all_settings=$(grep -E '^\| `[A-Za-z0-9_.]+` \|' CONFIGURATION.md | grep -v 'no effect' |
                 sed -E 's/^\| `([^`]+)`.*/\1/' | sort -u)
  set_settings=$(awk '$1 == "setting" { print $2 }' "$trace" | sort -u)
  while read -r k; do
    [ -n "$k" ] || continue
    grep -qx "$k" <<<"$set_settings" || unset+=("$k")
  done <<<"$all_settings"
  local nset
  nset=$(grep -c . <<<"$all_settings" || true)
  {
    echo "# Coverage of request codes and settings"
    echo
    echo "Request codes in README.md's tables: $total, exercised by the tests: $((total - ${#missing[@]}))."
    if [ "${#missing[@]}" -gt 0 ]; then
      echo "Never sent by any test: ${missing[*]}"
    fi
    echo
    echo "Settings with an effect in CONFIGURATION.md: $nset, set by no test: ${#unset[@]}"
    [ "${#unset[@]}" -eq 0 ] || printf -- '- `%s`\n' "${unset[@]}"
  } | tee "$out"
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "coverage: ${#missing[@]} README request code(s) never exercised" >&2
    return 1
  fi
}

lcov_report() {
  local build=$1 out=$2
  mkdir -p "$out"
  lcov --quiet --capture --directory "$build" --output-file "$out/all.info" --rc lcov_branch_coverage=0
  lcov --quiet --extract "$out/all.info" "$PWD/common/*" "$PWD/nameserver/*" "$PWD/broker/*" "$PWD/client/*" \
       "$PWD/tools/*" --output-file "$out/coverage.info"
  genhtml --quiet --output-directory "$out/html" "$out/coverage.info" >/dev/null
  lcov --summary "$out/coverage.info" 2>&1 | sed -n '/lines\|functions/p'
  echo "coverage: HTML report in $out/html/index.html"
}

case "${1:-}" in
  codes) shift; codes "$@" ;;
  lcov) shift; lcov_report "$@" ;;
  *) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
