#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The shared library's ABI is exactly what the public headers declare: the functions
declared in libmesh/include/mesh/*.h, the names listed in libmesh/libmesh.map (an explicit
list, no wildcard) and the symbols libmesh.so exports are the same three sets.

usage: check_exports.py SOURCE_ROOT LIBMESH_SO
"""
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(sys.argv[1])
SO = sys.argv[2]

COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
DECL = re.compile(r"\b(mesh_[a-z0-9_]+)\s*\(")
INLINE = re.compile(r"static\s+inline\b[^;{(]*?\b(mesh_[a-z0-9_]+)\s*\(")
TYPEDEF_FN = re.compile(r"\(\s*\*\s*(mesh_[a-z0-9_]+)\s*\)")


def declared():
    names = {}
    for h in sorted((ROOT / "libmesh/include/mesh").glob("*.h")):
        text = COMMENT.sub(" ", h.read_text())
        text = re.sub(r"^\s*#.*(?:\\\n.*)*", " ", text, flags=re.M)  # preprocessor lines
        fn_types = set(TYPEDEF_FN.findall(text))
        fn_types |= set(INLINE.findall(text))  # header-only: nothing to export
        for name in DECL.findall(text):
            if name not in fn_types:
                names.setdefault(name, h.name)
    return names


def mapped():
    text = COMMENT.sub(" ", (ROOT / "libmesh/libmesh.map").read_text())
    m = re.search(r"global\s*:(.*?)local\s*:", text, re.S)
    if not m:
        sys.exit("libmesh.map: no global:/local: sections")
    entries = [e.strip() for e in m.group(1).split(";") if e.strip()]
    wild = [e for e in entries if any(c in e for c in "*?[")]
    if wild:
        sys.exit(f"libmesh.map: wildcard entries {wild}: list every exported name")
    return set(entries)


def exported():
    out = subprocess.run(["nm", "-D", "--defined-only", SO], check=True,
                         capture_output=True, text=True).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TtDdBbRrVvWwi":
            syms.add(parts[2].split("@")[0])
    return {s for s in syms if not s.startswith("LIBMESH_")}


def main():
    decl, mp, exp = declared(), mapped(), exported()
    failures = []
    for n in sorted(set(decl) - exp):
        failures.append(f"{n} ({decl[n]}) is declared but libmesh.so does not export it "
                        f"(missing MESH_EXPORT on its definition, or not in libmesh.map)")
    for n in sorted(exp - set(decl)):
        failures.append(f"libmesh.so exports {n}, which no public header declares")
    for n in sorted(set(decl) - mp):
        failures.append(f"{n} ({decl[n]}) is not listed in libmesh/libmesh.map")
    for n in sorted(mp - set(decl)):
        failures.append(f"libmesh/libmesh.map lists {n}, which no public header declares")
    for f in failures:
        print("FAIL:", f)
    if failures:
        return 1
    print(f"ok: {len(decl)} public functions, declared = listed = exported")
    return 0


if __name__ == "__main__":
    sys.exit(main())
