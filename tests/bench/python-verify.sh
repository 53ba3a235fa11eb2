#!/usr/bin/env bash
# Verifications per second through the Python package (libmesh/python: the compiled mesh._fast
# path and the ctypes fallback) beside the C
# verifier (bench-verifier, the same build) and beside PyJWT + cryptography doing only the
# signature and the claims, in one run. Prints the ratios; never fails on a number.
# Run by ./dev bench with MESH_BUILD_ROOT set (RUNS may be overridden).
set -euo pipefail

BUILD=${MESH_BUILD_ROOT:?run via ./dev bench}
SRC=${MESH_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/mesh-pybench.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [[ -x $BUILD/tests/bench/bench-verifier ]]; then
    "$BUILD/tests/bench/bench-verifier" >"$work/c.txt" 2>&1 || true
else
    echo "python-verify: $BUILD/tests/bench/bench-verifier not built (cmocka missing?)" >"$work/c.txt"
fi
MESH_BUILD_ROOT=$BUILD MESH_SOURCE_ROOT=$SRC PYTHONDONTWRITEBYTECODE=1 \
    "$PY" "$SRC/tests/bench/python_verify.py" | tee "$work/py.txt"

c_unc=$(awk '/mesh_verify, uncached/ {print $3}' "$work/c.txt")
c_cac=$(awk '/mesh_verify, cached/ {print $3}' "$work/c.txt")
json_num() { sed -n "s/.*\"$1\": \([0-9]*\).*/\1/p" "$work/py.txt"; }
py_unc=$(json_num uncached)
py_cac=$(json_num cached)
ct_unc=$(json_num ctypes_uncached)
ct_cac=$(json_num ctypes_cached)
if [[ -n $c_unc && -n $c_cac && -n $py_unc && -n $py_cac && -n $ct_unc && -n $ct_cac ]]; then
    echo "  C mesh_verify (bench-verifier, same run): uncached $c_unc /s, cached $c_cac /s"
    awk -v a="$py_unc" -v b="$c_unc" -v c="$py_cac" -v d="$c_cac" 'BEGIN {
        printf "  python (package path) / C: uncached %.2f, cached %.2f (goal >= 0.8)\n", a / b, c / d }'
    awk -v a="$ct_unc" -v b="$c_unc" -v c="$ct_cac" -v d="$c_cac" 'BEGIN {
        printf "  python (ctypes path) / C:  uncached %.2f, cached %.2f\n", a / b, c / d }'
else
    echo "  python / C: not computed (bench-verifier said:)"
    sed 's/^/    /' "$work/c.txt"
fi
