#!/usr/bin/env bash
# The installed library is usable by a user's project: `meson install --destdir` into a temp
# dir, build examples/pkgconfig/hello-mesh.c with `pkg-config --cflags --libs libmesh`
# pointing into it (with a <curl/curl.h> that fails to compile first on the include path:
# <mesh/mesh.h> must not need curl), and hello-mesh-curl.c, which uses the bridge
# <mesh/curl.h>, with `pkg-config --cflags --libs libmesh-curl`; run both against a live
# demo mesh.
# $1: the build's b_sanitize value (the program must link the sanitizer runtimes too).
. "$(dirname "$0")/lib.sh"

sanitize=${1:-none}
meson install -C "$B" --no-rebuild --quiet --destdir "$T/root" >"$T/install.log" 2>&1
check "meson install --destdir" test -n "$(find "$T/root" -name libmesh.pc -print -quit)"
check "the public headers are installed" test -n "$(find "$T/root" -path '*/mesh/mesh.h' -print -quit)"

cc=${CC:-cc}
[[ $sanitize != none ]] && cc="$cc -fsanitize=$sanitize"
prefix=$(dirname "$(dirname "$(find "$T/root" -path '*/include/mesh' -print -quit)")")
check "libmesh-curl.pc is installed" test -n "$(find "$T/root" -name libmesh-curl.pc -print -quit)"
hdr=$(find "$T/root" -path '*/include/mesh' -print -quit)
check "only <mesh/curl.h> includes curl" \
    eval '[[ $(grep -l "include <curl/" "$hdr"/*.h | xargs -n1 basename) == curl.h ]]'
mkdir -p "$T/nocurl/curl"
printf '#error "<mesh/mesh.h> must compile without libcurl"\n' >"$T/nocurl/curl/curl.h"
out=$(CC="$cc -I$T/nocurl" "$MESH_SOURCE_ROOT/examples/pkgconfig/build.sh" --prefix "$prefix" \
    --out "$T/hello-mesh" 2>&1) || true
check "hello-mesh builds with pkg-config libmesh (no curl headers) and runs" \
    eval '[[ $out == *"libmesh "*": success"* ]]'
out=$(CC=$cc "$MESH_SOURCE_ROOT/examples/pkgconfig/build.sh" --curl --prefix "$prefix" \
    --out "$T/hello-mesh-curl" 2>&1) || true
check "hello-mesh-curl builds with pkg-config libmesh-curl and runs" \
    eval '[[ $out == *"libmesh "*" with libcurl/"*": success"* ]]'

mesh_up
libdir=$(dirname "$(find "$T/root" -name 'libmesh.so.0' -print -quit)")
out=$(LD_LIBRARY_PATH=$libdir "$T/hello-mesh" web-service gateway 2>&1) || true
check "hello-mesh gets a token from the demo issuer" \
    eval '[[ $out == *"web-service got a token for gateway"* ]]'
out=$(LD_LIBRARY_PATH=$libdir "$T/hello-mesh-curl" web-service gateway "$MESH_ISSUER_URL/healthz" \
    2>&1) || true
check "hello-mesh-curl calls the issuer through mesh_client_setup_curl" \
    eval '[[ $out == *"web-service called "*"/healthz: HTTP 200"* ]]'
