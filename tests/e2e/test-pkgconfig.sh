#!/usr/bin/env bash
# The installed library is usable by a user's project: `meson install --destdir` into a temp
# dir, build examples/pkgconfig/hello-mesh.c with `pkg-config --cflags --libs libmesh`
# pointing into it, run it, and let it fetch a token from a live demo mesh.
# $1: the build's b_sanitize value (the program must link the sanitizer runtimes too).
. "$(dirname "$0")/lib.sh"

sanitize=${1:-none}
meson install -C "$B" --no-rebuild --quiet --destdir "$T/root" >"$T/install.log" 2>&1
check "meson install --destdir" test -n "$(find "$T/root" -name libmesh.pc -print -quit)"
check "the public headers are installed" test -n "$(find "$T/root" -path '*/mesh/mesh.h' -print -quit)"

cc=${CC:-cc}
[[ $sanitize != none ]] && cc="$cc -fsanitize=$sanitize"
prefix=$(dirname "$(dirname "$(find "$T/root" -path '*/include/mesh' -print -quit)")")
out=$(CC=$cc "$MESH_SOURCE_ROOT/examples/pkgconfig/build.sh" --prefix "$prefix" \
    --out "$T/hello-mesh" 2>&1) || true
check "hello-mesh builds with pkg-config and runs" eval '[[ $out == *"libmesh "*": success"* ]]'

mesh_up
libdir=$(dirname "$(find "$T/root" -name 'libmesh.so.0' -print -quit)")
out=$(LD_LIBRARY_PATH=$libdir "$T/hello-mesh" web-service gateway 2>&1) || true
check "hello-mesh gets a token from the demo issuer" \
    eval '[[ $out == *"web-service got a token for gateway"* ]]'
