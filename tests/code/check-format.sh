#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Every C file of the repository is formatted as .clang-format says (docs/STYLE.md). Fix with:
#   clang-format -i <file>      (or ./dev format)
set -eu
root=${1:?usage: check-format.sh SOURCE_ROOT}
cd "$root"
if ! command -v clang-format >/dev/null 2>&1; then
    echo "clang-format is not installed: run ./dev deps" >&2
    exit 1
fi
files=$(find libmesh ca issuer examples tests -name '*.[ch]' -not -path 'tests/fuzz/corpus/*' \
    -not -path 'tests/vectors/*' | sort)
bad=0
for f in $files; do
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "not formatted: $f (clang-format -i $f)"
        bad=$((bad + 1))
    fi
done
if [ "$bad" -ne 0 ]; then
    echo "$bad file(s) differ from .clang-format" >&2
    exit 1
fi
echo "ok: $(echo "$files" | wc -l) files formatted"
