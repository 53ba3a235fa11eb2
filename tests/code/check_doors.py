#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Each third-party library has one door: docs/ARCHITECTURE.md's dependency table names the
files that may include its headers, and this test holds the code to the table (both ways: no
include outside the listed files, no listed pattern that matches no includer).

Also: untrusted JSON is parsed only in libmesh/json.c (jansson's json_load* functions are
called nowhere else in program code), and the public headers include no third-party header
except the bridge headers the table lists.

usage: check_doors.py SOURCE_ROOT
"""
import fnmatch
import pathlib
import re
import sys

ROOT = pathlib.Path(sys.argv[1])
PROGRAM_DIRS = ["libmesh", "ca", "issuer", "examples"]  # tests may use what they test with
TABLE_HEAD = re.compile(r"^\|\s*dependency\s*\|\s*header\s*\|", re.I)
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)
JSON_PARSE = re.compile(r"\bjson_load(?:b|s|f|_file|_callback)\s*\(")


def program_files():
    for d in PROGRAM_DIRS:
        for p in sorted((ROOT / d).rglob("*")):
            if p.suffix in (".c", ".h") and p.is_file():
                yield p.relative_to(ROOT).as_posix(), p.read_text(errors="replace")


def read_table():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text().splitlines()
    rows, inside = [], False
    for line in text:
        if TABLE_HEAD.match(line):
            inside = True
            continue
        if inside:
            if not line.startswith("|"):
                break
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if set(cells[0]) <= set("-: "):
                continue
            if len(cells) < 3:
                sys.exit(f"ARCHITECTURE.md dependency table: row without 3 cells: {line}")
            header = cells[1].strip("`")
            globs = re.findall(r"`([^`]+)`", cells[2])
            rows.append((cells[0], header, globs))
    if not rows:
        sys.exit("docs/ARCHITECTURE.md: no '| dependency | header | ...' table found")
    return rows


def main():
    rows = read_table()
    files = list(program_files())
    failures = []
    for name, header, globs in rows:
        includers = [f for f, text in files
                     if any(inc == header or (header.endswith("/") and inc.startswith(header))
                            for inc in INCLUDE.findall(text))]
        for f in includers:
            if not any(fnmatch.fnmatchcase(f, g) for g in globs):
                failures.append(f"{f} includes <{header}> ({name}) but is not in the "
                                f"ARCHITECTURE.md dependency table: go through the door "
                                f"({', '.join(globs)}) or add the file to the table")
        for g in globs:
            if not any(fnmatch.fnmatchcase(f, g) for f in includers):
                failures.append(f"ARCHITECTURE.md lists `{g}` for {name}, but no such file "
                                f"includes <{header}>: the table is stale")
    for f, text in files:
        if f != "libmesh/json.c" and JSON_PARSE.search(text):
            failures.append(f"{f} parses JSON with jansson directly: use mesh_json_parse "
                            f"(<mesh/jansson.h>), which refuses duplicate members and bounds "
                            f"the depth")
    known = {h for _, h, _ in rows}
    for f, text in files:
        if not f.startswith("libmesh/include/mesh/"):
            continue
        for inc in INCLUDE.findall(text):
            if inc.startswith("mesh/") or not any(
                    inc == h or (h.endswith("/") and inc.startswith(h)) for h in known):
                continue
            # a third-party header in a public header: allowed only where the table says
            if not any(fnmatch.fnmatchcase(f, g) for _, h, gl in rows for g in gl
                       if inc == h or (h.endswith("/") and inc.startswith(h))):
                failures.append(f"public header {f} includes <{inc}>")
    for msg in failures:
        print("FAIL:", msg)
    if failures:
        return 1
    print(f"ok: {len(rows)} dependencies, {len(files)} files, one door each")
    return 0


if __name__ == "__main__":
    sys.exit(main())
