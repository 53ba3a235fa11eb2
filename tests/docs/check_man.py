#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks the man pages and the --help of every program.

- Every page in docs/man/ is installed (meson-info/intro-installed.json), and every
  installed page renders without a warning (groff -man -Tutf8 -ww at 80 columns, as man(1)
  shows it), has NAME, SYNOPSIS, DESCRIPTION, EXIT STATUS, EXAMPLES and SEE ALSO, and its
  SEE ALSO names every other installed page of sections 1, 5 and 8.
- Every program given answers --help with exit 0 and output on stdout; so does every verb
  its --help lists (lines "VERB  description" or "VERB SUBVERB  description", indented at
  most 4 spaces), and for a two-word verb the first word alone ("token --help").
- An installed program has an installed man page, lists at least one verb, and its page
  names each verb as "PROGRAM VERB". A program that is not installed (the examples) has no
  page; its --help must then give the exit status.

usage: check_man.py SOURCE_ROOT BUILD_ROOT PROGRAM...   (exit 0 all good, 1 a check failed)
"""
import json
import os
import re
import shutil
import subprocess
import sys

REQUIRED_SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "EXAMPLES", "SEE ALSO"]
VERB_LINE = re.compile(r"^ {0,4}([a-z][a-z0-9-]*(?: [a-z][a-z0-9-]*)?) {2,}\S")
MAN_DEST = re.compile(r"/man/man([1-9])/([^/]+)\.([1-9])$")
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL " + msg)


def run(argv, timeout=20):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, "", str(e)
    return p.returncode, p.stdout, p.stderr


def installed_pages(build_root):
    """{name.section: source path} of every man page meson installs."""
    path = os.path.join(build_root, "meson-info", "intro-installed.json")
    with open(path, encoding="utf-8") as f:
        installed = json.load(f)
    pages, programs = {}, set()
    for src, dest in installed.items():
        m = MAN_DEST.search(dest)
        if m:
            pages["%s.%s" % (m.group(2), m.group(3))] = src
        elif "/bin/" in dest or "/sbin/" in dest:
            programs.add(os.path.basename(dest))
    return pages, programs


def check_page(name, src, all_pages):
    # Warnings as man(1) shows the page on an 80-column terminal (line length 78n).
    rc, _, err = run(["groff", "-man", "-ww", "-z", "-Tutf8", "-rLL=78n", src])
    if rc != 0 or err.strip():
        fail("%s: groff -man -ww warns or fails:\n%s" % (name, err.rstrip()))
    # Plain text without hyphenation, to look for headings and names.
    rc, text, err = run(["groff", "-man", "-Tascii", "-P-cbou", "-rLL=78n", "-rHY=0", src])
    if rc != 0:
        fail("%s: does not render: %s" % (name, err.rstrip()))
        return ""
    headings = re.findall(r"^([A-Z][A-Z0-9 -]*[A-Z0-9])$", text, re.M)
    for sec in REQUIRED_SECTIONS:
        if sec not in headings:
            fail("%s: no %s section (STYLE.md \"Docs\")" % (name, sec))
    see_also = re.search(r"^SEE ALSO$(.*?)(?=^[A-Z][A-Z0-9 -]*$|\Z)", text, re.M | re.S)
    see_also = " ".join(see_also.group(1).split()) if see_also else ""
    for other in sorted(all_pages):
        base, sect = other.rsplit(".", 1)
        if other == name or sect not in "158":
            continue
        if "%s(%s)" % (base, sect) not in see_also:
            fail("%s: SEE ALSO does not name %s(%s)" % (name, base, sect))
    return " ".join(text.split())


def help_of(argv):
    rc, out, err = run(argv + ["--help"])
    shown = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(argv))
    if rc != 0 or not out.strip():
        fail("'%s --help' exits %s with %d bytes on stdout (want 0 and a usage text)%s"
             % (shown, rc, len(out.strip()), ": " + err.strip()[:300] if err.strip() else ""))
    return out


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    source_root, build_root, programs = sys.argv[1], sys.argv[2], sys.argv[3:]
    if shutil.which("groff") is None:
        print("FAIL groff is not installed; install groff-base (./dev deps)")
        return 1

    pages, installed_programs = installed_pages(build_root)
    man_dir = os.path.join(source_root, "docs", "man")
    for f in sorted(os.listdir(man_dir)):
        if re.search(r"\.[1-9]$", f) and f not in pages:
            fail("docs/man/%s is not installed: add it to an install_man() in meson" % f)
    if not pages:
        fail("no man page is installed (intro-installed.json has none)")
    texts = {name: check_page(name, src, pages) for name, src in sorted(pages.items())}

    for prog in programs:
        prog = os.path.join(build_root, prog)  # meson passes paths relative to the build
        name = os.path.basename(prog)
        out = help_of([prog])
        verbs = [m.group(1) for m in map(VERB_LINE.match, out.splitlines()) if m]
        groups = {v.split()[0] for v in verbs if " " in v}
        for v in sorted(groups) + verbs:
            help_of([prog] + v.split())
        page = next((p for p in texts if p.rsplit(".", 1)[0] == name), None)
        if name not in installed_programs:
            # Examples are copied, not installed: their --help (and README) is the manual.
            if not re.search(r"exit status", out, re.I):
                fail("'%s --help' does not give the exit status (it has no man page)" % name)
            print("ok   %s --help and %d verb(s) (not installed: --help is its manual)"
                  % (name, len(verbs)))
            continue
        if page is None:
            fail("%s is installed but has no installed man page" % name)
            continue
        if not verbs:
            fail("found no verbs in '%s --help': its format changed; update "
                 "tests/docs/check_man.py" % name)
        for v in verbs:
            said = r"(?<![\w-])%s %s(?![\w-])" % (re.escape(name), re.escape(v))
            if not re.search(said, texts[page]):
                fail("%s --help lists the verb '%s' but %s never says '%s %s'"
                     % (name, v, page, name, v))
        print("ok   %s --help, verbs %s, all in %s" % (name, ", ".join(verbs), page))

    for p in sorted(pages):
        print("ok   %s checked" % p if not any(f.startswith(p + ":") for f in failures)
              else "     %s has failures" % p)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
