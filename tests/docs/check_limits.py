#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Limits live in one header (STYLE.md "Safety habits", issue 10 point 6).

Fails when a .c or .h file under libmesh/, issuer/, ca/ or examples/ defines a MAX/LIMIT-style
constant (#define, static const, enum member) anywhere but libmesh/include/mesh/limits.h,
unless ALLOWED below names it with the reason it is not a limit on untrusted input. An
ALLOWED entry that no longer matches anything fails too, so the list stays true.

usage: check_limits.py SOURCE_ROOT
"""
import os
import re
import sys

DIRS = ("libmesh", "issuer", "ca", "examples")
LIMITS_H = os.path.join("libmesh", "include", "mesh", "limits.h")

# A name that reads as a bound: ..._MAX, MAX_..., ..._LIMIT_... (include guards excluded).
NAME = re.compile(r"(^|_)(MAX|LIMIT)(_|$)", re.IGNORECASE)
DEFINE = re.compile(r"^\s*#\s*define\s+([A-Za-z_][A-Za-z0-9_]*)\b")
STATIC_CONST = re.compile(
    r"^\s*static\s+const\s+[A-Za-z_][A-Za-z0-9_ ]*?\s+\**([A-Za-z_][A-Za-z0-9_]*)\s*(\[[^\]]*\])?\s*=")
ENUM_MEMBER = re.compile(r"^\s*([A-Z][A-Z0-9_]*)\s*=\s*[-(0-9]")
ENUM_INLINE = re.compile(r"\benum\b[^{;]*\{([^}]*)")  # enum { BIG = 100000 };

ALLOWED = {
    # Not limits on untrusted input: sizes of fixed formats, tuning, output caps.
    ("issuer/core/store_sqlite.h", "STORE_WAL_LIMIT_BYTES"):
        "the store's WAL checkpoint size: tuning of our own database, not input",
    ("issuer/core/ratelimit.c", "RL_RETRY_MAX_S"):
        "a cap on the Retry-After the issuer sends (output), not on input",
    ("examples/common/log_limit.h", "LOG_LIMIT_BURST"):
        "an alias of MESH_LOG_REFUSALS_PER_S (log output rate) for the log_limit module",
    ("examples/common/log_limit.h", "LOG_LIMIT_INTERVAL_S"):
        "the log limiter's interval (output rate), not an input limit",
    ("libmesh/sig.c", "ES256_DER_MAX"):
        "the size of a DER ECDSA P-256 signature we produce: a format size, not a limit",
    ("libmesh/jws_internal.h", "MESH_SIG_MAX"):
        "the largest signature, derived from MESH_MAX_RSA_BITS: a buffer size",
    ("libmesh/key_jwk.c", "RSA_MAX_BYTES"):
        "derived from MESH_MAX_RSA_BITS: a buffer size",
    ("libmesh/key_jwk_parse.c", "RSA_MAX_BYTES"):
        "derived from MESH_MAX_RSA_BITS: a buffer size",
    ("libmesh/key_jwk_parse.c", "FIELD_MAX"):
        "derived from MESH_MAX_RSA_BITS: a buffer size",
    ("libmesh/revocations_internal.h", "REV_BUCKETS_MAX"):
        "hash-table growth step of the revocation set (bounded by MESH_MAX_REVOKED)",
    ("libmesh/jwks_cache.c", "FAIL_RETRY_MAX_MS"):
        "backoff of our own refetches (timing), not input",
    ("libmesh/cli/cli.h", "CLI_MAX_STDIN"):
        "derived from MESH_MAX_TOKEN_BYTES",
    ("libmesh/jws.c", "HCACHE_MAX"):
        "a per-thread cache slot for the last header: a longer header is parsed every time, "
        "not refused (MESH_MAX_HEADER_JSON_BYTES limits it)",
}


def names_in(path):
    """(line number, name) of every MAX/LIMIT-style constant the file defines."""
    found = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            names = []
            for rx in (DEFINE, STATIC_CONST, ENUM_MEMBER):
                m = rx.match(line)
                if m is not None:
                    names.append(m.group(1))
                    break
            m = ENUM_INLINE.search(line)
            if m is not None:
                names += re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*=", m.group(1))
            for name in names:
                if name.endswith("_H") or name.startswith("MESH_ERR_"):
                    continue  # include guards, error codes
                if NAME.search(name):
                    found.append((n, name))
    return found


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    bad, seen = [], set()
    for top in DIRS:
        for dirpath, dirnames, files in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for fn in sorted(files):
                if not fn.endswith((".c", ".h")) or fn.startswith("test-"):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, fn), root)
                if rel == LIMITS_H:
                    continue
                for n, name in names_in(os.path.join(root, rel)):
                    if (rel, name) in ALLOWED:
                        seen.add((rel, name))
                    else:
                        bad.append(f"{rel}:{n}: {name}")
    stale = sorted(f"{p}: {n}" for (p, n) in ALLOWED if (p, n) not in seen)
    for b in bad:
        print(f"check_limits: {b}: a limit outside {LIMITS_H}; move it there as MESH_... "
              "with a comment (or, when it bounds no input, add it to ALLOWED with the reason)")
    for s in stale:
        print(f"check_limits: ALLOWED lists {s}, which no longer exists: remove the entry")
    if bad or stale:
        return 1
    with open(os.path.join(root, LIMITS_H), encoding="utf-8") as f:
        n_limits = sum(1 for line in f if DEFINE.match(line) and not line.split()[1].endswith("_H"))
    print(f"check_limits: ok ({n_limits} limits in {LIMITS_H}, {len(ALLOWED)} allowed elsewhere)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
