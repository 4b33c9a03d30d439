#!/bin/sh
# install_check.sh - install Comet into a temporary prefix, run every installed
# program from it (-h; mqbench must load the prefix's libcomet), and build
# every client example outside the tree against it with pkg-config: once with
# the shared library, once fully static. Exits non-zero on the first failure.
#
#   tests/install_check.sh [build-dir]      (default: ./build)
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
CC=${CC:-cc}
PREFIX=$(mktemp -d "${TMPDIR:-/tmp}/comet-prefix.XXXXXX")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/comet-app.XXXXXX")
trap 'rm -rf "$PREFIX" "$WORK"' EXIT INT TERM

cmake --install "$BUILD" --prefix "$PREFIX" >/dev/null
PC=$(find "$PREFIX" -name comet.pc | head -n 1)
[ -n "$PC" ] || { echo "install_check: comet.pc was not installed" >&2; exit 1; }
PKG_CONFIG_PATH=$(dirname "$PC")
export PKG_CONFIG_PATH
LIBDIR=$(pkg-config --variable=libdir comet)
[ -f "$PREFIX/include/comet/comet.h" ] || { echo "install_check: comet.h missing" >&2; exit 1; }
# only the public header is installed
if [ "$(find "$PREFIX/include" -name '*.h' | wc -l)" -ne 1 ]; then
    echo "install_check: headers other than comet/comet.h were installed" >&2
    exit 1
fi

# every program is installed and runs from the prefix alone: no build tree,
# no LD_LIBRARY_PATH (mqbench links the shared libcomet through its RUNPATH).
# Fails when an install rule is missing or a binary cannot load its libraries.
for b in mqnamesrv mqbroker mqadmin mqbench; do
    [ -x "$PREFIX/bin/$b" ] || { echo "install_check: $b was not installed into $PREFIX/bin" >&2; exit 1; }
    st=0
    out=$(env -u LD_LIBRARY_PATH "$PREFIX/bin/$b" -h 2>&1) || st=$?
    if [ "$st" -ne 0 ] || ! printf '%s' "$out" | grep -q "usage"; then
        echo "install_check: $PREFIX/bin/$b -h exited $st:" >&2
        printf '%s\n' "$out" >&2
        exit 1
    fi
done
got=$(env -u LD_LIBRARY_PATH ldd "$PREFIX/bin/mqbench" | awk '$1 == "libcomet.so.0" { print $3 }')
if [ -z "$got" ] || [ "$(readlink -f "$got")" != "$(readlink -f "$LIBDIR/libcomet.so.0")" ]; then
    echo "install_check: the installed mqbench does not load $LIBDIR/libcomet.so.0 (got \"$got\"):" >&2
    env -u LD_LIBRARY_PATH ldd "$PREFIX/bin/mqbench" >&2
    exit 1
fi

# the examples' shared header (public API only) travels with them
cp "$SRC/client/examples/example_common.h" "$WORK/"
for ex in producer push_consumer pull_consumer transaction_producer; do
    cp "$SRC/client/examples/$ex.c" "$WORK/"
    # shared
    $CC -std=c11 -Wall -Wextra -Werror $(pkg-config --cflags comet) -o "$WORK/$ex" "$WORK/$ex.c" \
        $(pkg-config --libs comet)
    # static (libcomet.a carries the common/remoting objects)
    $CC -std=c11 -Wall -Wextra -Werror $(pkg-config --cflags comet) -o "$WORK/$ex-static" "$WORK/$ex.c" \
        "$LIBDIR/libcomet.a" $(pkg-config --static --libs-only-L --libs-only-l comet | sed 's/-lcomet//')
    # both run (usage error: exit status 2, no broker needed)
    st=0
    LD_LIBRARY_PATH="$LIBDIR" "$WORK/$ex" >/dev/null 2>&1 || st=$?
    [ "$st" -eq 2 ] || { echo "install_check: $ex (shared) exited $st, expected usage status 2" >&2; exit 1; }
    st=0
    "$WORK/$ex-static" >/dev/null 2>&1 || st=$?
    [ "$st" -eq 2 ] || { echo "install_check: $ex (static) exited $st, expected usage status 2" >&2; exit 1; }
done
# C++ applications include the same header
if command -v "${CXX:-c++}" >/dev/null 2>&1; then
    cat > "$WORK/app.cc" <<'CC'
#include <comet/comet.h>
#include <cstdio>
int main()
{
    comet_conf_t *conf = comet_conf_new();
    char err[256];
    if (comet_conf_set(conf, "sendMsgTimeout", "1000", err, sizeof(err)) != COMET_CONF_OK)
        return 1;
    std::printf("%s\n", comet_err2name(COMET_ERR__TIMED_OUT));
    comet_conf_destroy(conf);
    return 0;
}
CC
    "${CXX:-c++}" -std=c++11 -Wall -Wextra -Werror $(pkg-config --cflags comet) -o "$WORK/app_cc" "$WORK/app.cc" \
        $(pkg-config --libs comet)
    LD_LIBRARY_PATH="$LIBDIR" "$WORK/app_cc" >/dev/null
fi
# the shared library exports only the public API
if nm -D --defined-only "$LIBDIR/libcomet.so" | awk '{print $3}' | grep -v '^comet_' | grep -q .; then
    echo "install_check: libcomet.so exports non-comet_ symbols" >&2
    exit 1
fi
echo "install_check: OK ($PREFIX: mqnamesrv mqbroker mqadmin mqbench run from the prefix; shared and static builds of producer, push_consumer, pull_consumer; C++)"
