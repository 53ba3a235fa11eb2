#!/usr/bin/env bash
# Builds hello-mesh.c against an installed libmesh, the way a user's project would:
#   cc hello-mesh.c $(pkg-config --cflags --libs libmesh)
#
# usage: examples/pkgconfig/build.sh [--prefix DIR] [--out FILE]
#   --prefix DIR  where libmesh is installed (default: pkg-config's own search path); with
#                 `meson install --destdir TMP`, pass TMP/usr/local (PKG_CONFIG_PATH and the
#                 run-time library path are set from it)
#   --out FILE    the program to write (default: ./hello-mesh)
# Then runs it once: it prints the libmesh version.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prefix= out=./hello-mesh
while (($#)); do
    case $1 in
    --prefix) prefix=${2:?--prefix needs a directory}; shift ;;
    --out) out=${2:?--out needs a file}; shift ;;
    -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) printf 'build.sh: unknown option %s\n' "$1" >&2; exit 2 ;;
    esac
    shift
done
if [[ -n $prefix ]]; then
    pc=$(dirname "$(find "$prefix" -name libmesh.pc -print -quit)")
    [[ -n $pc && $pc != . ]] || { echo "build.sh: no libmesh.pc under $prefix" >&2; exit 1; }
    export PKG_CONFIG_PATH=$pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
    # A relocated (destdir) install: point pkg-config's paths into it.
    export PKG_CONFIG_SYSROOT_DIR=
    cflags=$(pkg-config --define-variable=prefix="$prefix" --cflags libmesh)
    libs=$(pkg-config --define-variable=prefix="$prefix" --libs libmesh)
    libdir=$(pkg-config --define-variable=prefix="$prefix" --variable=libdir libmesh)
else
    cflags=$(pkg-config --cflags libmesh)
    libs=$(pkg-config --libs libmesh)
    libdir=$(pkg-config --variable=libdir libmesh)
fi
echo "cc hello-mesh.c $cflags $libs" >&2
${CC:-cc} -std=c11 -Wall -Wextra -Werror -o "$out" "$here/hello-mesh.c" $cflags $libs
LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$out"
