#!/usr/bin/env bash
# Builds hello-mesh.c against an installed libmesh, the way a user's project would:
#   cc hello-mesh.c $(pkg-config --cflags --libs libmesh)
# or, with --curl, hello-mesh-curl.c (it uses the libcurl bridge <mesh/curl.h>):
#   cc hello-mesh-curl.c $(pkg-config --cflags --libs libmesh-curl)
#
# usage: examples/pkgconfig/build.sh [--curl] [--prefix DIR] [--out FILE]
#   --curl        build hello-mesh-curl.c with the libmesh-curl module
#   --prefix DIR  where libmesh is installed (default: pkg-config's own search path); with
#                 `meson install --destdir TMP`, pass TMP/usr/local (PKG_CONFIG_PATH and the
#                 run-time library path are set from it)
#   --out FILE    the program to write (default: ./hello-mesh or ./hello-mesh-curl)
# Then runs it once: it prints the libmesh version.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prefix= out= prog=hello-mesh module=libmesh
while (($#)); do
    case $1 in
    --curl) prog=hello-mesh-curl module=libmesh-curl ;;
    --prefix) prefix=${2:?--prefix needs a directory}; shift ;;
    --out) out=${2:?--out needs a file}; shift ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) printf 'build.sh: unknown option %s\n' "$1" >&2; exit 2 ;;
    esac
    shift
done
out=${out:-./$prog}
if [[ -n $prefix ]]; then
    pc=$(dirname "$(find "$prefix" -name libmesh.pc -print -quit)")
    [[ -n $pc && $pc != . ]] || { echo "build.sh: no libmesh.pc under $prefix" >&2; exit 1; }
    export PKG_CONFIG_PATH=$pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
    # A relocated (destdir) install: point pkg-config's paths into it.
    export PKG_CONFIG_SYSROOT_DIR=
    cflags=$(pkg-config --define-variable=prefix="$prefix" --cflags $module)
    libs=$(pkg-config --define-variable=prefix="$prefix" --libs $module)
    libdir=$(pkg-config --define-variable=prefix="$prefix" --variable=libdir libmesh)
else
    cflags=$(pkg-config --cflags $module)
    libs=$(pkg-config --libs $module)
    libdir=$(pkg-config --variable=libdir libmesh)
fi
echo "cc $prog.c $cflags $libs" >&2
${CC:-cc} -std=c11 -Wall -Wextra -Werror -o "$out" "$here/$prog.c" $cflags $libs
LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$out"
