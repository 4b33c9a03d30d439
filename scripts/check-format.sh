#!/usr/bin/env bash
# Check (or fix) the formatting of Comet's C sources against .clang-format
# with Debian's clang-format 14 (pinned: another major version formats
# differently; scripts/deps.sh --test installs it).
#
#   scripts/check-format.sh [PATH...]        exit 1 and list the files whose
#                                            text differs from clang-format's
#   scripts/check-format.sh --fix [PATH...]  rewrite them in place
#
# PATHs are files or directories; default: every tracked .c and .h file.
# CLANG_FORMAT overrides the binary (it must still be version 14).
set -euo pipefail
cd "$(dirname "$0")/.."

fix=0
if [ "${1:-}" = "--fix" ]; then
  fix=1
  shift
fi
CF=${CLANG_FORMAT:-clang-format-14}
if ! command -v "$CF" >/dev/null 2>&1; then
  echo "check-format: $CF not found (Debian: apt-get install clang-format-14, or scripts/deps.sh --test)" >&2
  exit 2
fi
if ! "$CF" --version | grep -q "version 14\."; then
  echo "check-format: $CF is not clang-format 14: $("$CF" --version)" >&2
  exit 2
fi

mapfile -t files < <(git ls-files -- "${@:-.}" | grep -E '\.[ch]$' || true)
if [ "${#files[@]}" -eq 0 ]; then
  echo "check-format: no C files under ${*:-.}" >&2
  exit 2
fi

bad=()
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  if [ "$fix" = 1 ]; then
    "$CF" -i "$f"
  elif ! "$CF" --dry-run -Werror "$f" >/dev/null 2>&1; then
    bad+=("$f")
  fi
done

if [ "${#bad[@]}" -gt 0 ]; then
  echo "check-format: ${#bad[@]} of ${#files[@]} files differ from $CF's output:" >&2
  printf '  %s\n' "${bad[@]}" >&2
  echo "fix with: scripts/check-format.sh --fix ${bad[*]}" >&2
  exit 1
fi
[ "$fix" = 1 ] && echo "check-format: formatted ${#files[@]} files" || echo "check-format: ${#files[@]} files OK"
