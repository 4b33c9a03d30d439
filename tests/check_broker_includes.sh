#!/usr/bin/env bash
# tests/check_broker_includes.sh - the broker's include graph is a tree, not
# a circle (ARCHITECTURE.md, "The broker's parts"). Reads every #include "..."
# of broker/ and fails, listing the offence, when:
#
#   file-cycle     a header includes itself through other headers;
#   part-cycle     two parts include each other, directly or through others.
#                  A part is a sub-folder (processor/, ha/, meta/...) or a
#                  top-level file pair (broker_meta.c + broker_meta.h); the
#                  controller (broker.c) and the state it shares (broker.h)
#                  are two parts: broker.c includes the services, the
#                  services include broker.h, broker.h includes neither;
#   header-state   a header includes broker.h (only .c files work on the
#                  broker's state; headers forward-declare rmq_broker_t);
#   state-deps     broker.h includes a broker/ header other than the ones
#                  whose types it holds by value (broker_conf.h, meta/,
#                  the store): it must not hand a subsystem to its includers;
#   state-unused   a file includes broker.h and never touches the broker
#                  (rmq_broker_t, b->..., ->b->...): it included it only to
#                  reach another subsystem, which it must include itself.
#
# Includes are resolved the way the build does: next to the file, then
# broker/, broker/store/, broker/acl/; anything else (common/, system) is
# outside the graph. Needs bash, grep, sed, awk and tsort (coreutils).
set -uo pipefail
cd "$(dirname "$0")/.."

bad=0
report() { # rule, message
    printf 'check_broker_includes: %s: %s\n' "$1" "$2" >&2
    bad=$((bad + 1))
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mapfile -t files < <(find broker -name '*.[ch]' | sort)
[ "${#files[@]}" -gt 0 ] || { echo "check_broker_includes: no broker/ sources found" >&2; exit 1; }

# file edges "from to" (one awk pass: the list of files, then every include line)
grep -HE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"' "${files[@]}" |
    awk -v list="$(printf '%s\n' "${files[@]}")" '
    BEGIN { n = split(list, fs, "\n"); for (i = 1; i <= n; i++) if (fs[i] != "") known[fs[i]] = 1 }
    {
        f = substr($0, 1, index($0, ":") - 1)
        inc = $0; sub(/^[^"]*"/, "", inc); sub(/".*$/, "", inc)
        d = f; sub(/\/[^\/]*$/, "", d)
        split(d "/" inc " broker/" inc " broker/store/" inc " broker/acl/" inc, cands, " ")
        for (i = 1; i <= 4; i++) if (cands[i] in known) { print f, cands[i]; break }
    }' >"$work/files"

# tsort prints each loop it finds on stderr and exits non-zero.
check_cycles() { # rule, edge file
    if ! tsort "$2" >/dev/null 2>"$work/loop"; then
        report "$1" "$(grep -v 'input contains a loop' "$work/loop" | sed 's/^tsort: //' | paste -sd' ' -) (each includes the next, the last the first)"
    fi
}
check_cycles file-cycle "$work/files"

awk '
function part(p) {
    if (p == "broker/broker.c" || p == "broker/broker.h") return p
    if (split(p, seg, "/") > 2) return seg[2] "/"
    sub(/\.[ch]$/, "", p); return p
}
{ x = part($1); y = part($2); if (x != y) print x, y }' "$work/files" | sort -u >"$work/parts"
check_cycles part-cycle "$work/parts"

while read -r a b; do
    if [ "$b" = broker/broker.h ] && [[ "$a" == *.h ]] && [ "$a" != broker/broker_meta.h ]; then
        report header-state "$a includes broker.h (forward-declare rmq_broker_t instead)"
    fi
    if [ "$a" = broker/broker.h ]; then
        case "$b" in
        broker/broker_conf.h | broker/meta/* | broker/store/*) ;;
        *) report state-deps "broker.h includes $b (its includers would reach that subsystem through it)" ;;
        esac
    fi
done <"$work/files"

# broker_meta.h is the one header that includes broker.h: its functions take
# the broker, so its includers use the state; it counts as broker.h below.
for f in $(awk '$2 == "broker/broker.h" || $2 == "broker/broker_meta.h" {print $1}' "$work/files" | sort -u); do
    [ "$f" = broker/broker_meta.h ] && continue
    if ! grep -qE 'rmq_broker_t|struct rmq_broker_s|(^|[^a-zA-Z0-9_])b->|->b->' "$f"; then
        report state-unused "$f includes broker.h but never touches the broker's state"
    fi
done

if [ "$bad" -ne 0 ]; then
    echo "check_broker_includes: $bad violation(s) above (rules at the top of tests/check_broker_includes.sh)" >&2
    exit 1
fi
echo "check_broker_includes: ${#files[@]} broker/ files, $(wc -l <"$work/files") includes, $(cut -d' ' -f1 "$work/parts" | sort -u | wc -l) parts: no cycle"
