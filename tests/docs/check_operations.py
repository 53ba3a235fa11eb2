#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks docs/OPERATIONS.md against the code it describes.

- Every issuer metric is documented (the contract's list, plus every mesh_issuer_* name in
  issuer/core/metrics.c when it exists), and the doc names no metric the code lacks.
- The ```yaml alert rules parse, each rule has alert + expr, names are unique, and every
  mesh_issuer_* metric an expression uses is one the code exports.

usage: check_operations.py SOURCE_ROOT   (exit 0 all good, 1 a check failed)
"""
import os
import re
import sys

import yaml

CONTRACT_METRICS = {
    "mesh_issuer_tokens_issued_total",
    "mesh_issuer_denials_total",
    "mesh_issuer_request_duration_seconds",
    "mesh_issuer_active_connections",
    "mesh_issuer_tls_handshake_failures_total",
    "mesh_issuer_revocations_total",
    "mesh_issuer_service_token_expiry_seconds",
}
METRIC = re.compile(r"\bmesh_issuer_[a-z_]+")


def base(name):
    """A histogram's series names back to the family name."""
    return re.sub(r"_(bucket|sum|count)$", "", name)


def main():
    root = sys.argv[1] if len(sys.argv) == 2 else os.environ.get("MESH_SOURCE_ROOT", ".")
    doc_path = os.path.join(root, "docs", "OPERATIONS.md")
    failures = []
    if not os.path.isfile(doc_path):
        print("FAIL docs/OPERATIONS.md does not exist")
        return 1
    with open(doc_path, encoding="utf-8") as f:
        doc = f.read()

    known = set(CONTRACT_METRICS)
    code_path = os.path.join(root, "issuer", "core", "metrics.c")
    from_code = None
    if os.path.isfile(code_path):
        with open(code_path, encoding="utf-8") as f:
            from_code = {base(m) for m in METRIC.findall(f.read())}
        known |= from_code
    else:
        print("issuer/core/metrics.c not found: checking against the contract's metric list")

    documented = {base(m) for m in re.findall(r"`(mesh_issuer_[a-z_]+)", doc)}
    for m in sorted(known - documented):
        failures.append(f"docs/OPERATIONS.md does not document the metric {m}")
    for m in sorted(documented - known):
        failures.append(f"docs/OPERATIONS.md names {m}, which the issuer does not export")

    blocks = re.findall(r"```yaml\n(.*?)```", doc, re.S)
    if not blocks:
        failures.append("docs/OPERATIONS.md has no ```yaml alert rules")
    names = set()
    rules = 0
    for i, b in enumerate(blocks, 1):
        try:
            y = yaml.safe_load(b)
        except yaml.YAMLError as e:
            failures.append(f"docs/OPERATIONS.md yaml block {i} does not parse: {e}")
            continue
        groups = y.get("groups") if isinstance(y, dict) else None
        if not isinstance(groups, list) or not groups:
            failures.append(f"yaml block {i}: no groups: list (Prometheus rule file format)")
            continue
        for g in groups:
            for r in g.get("rules") or []:
                rules += 1
                alert, expr = r.get("alert"), r.get("expr")
                if not alert or not expr:
                    failures.append(f"yaml block {i}: a rule lacks alert or expr: {r}")
                    continue
                if alert in names:
                    failures.append(f"alert {alert} is defined twice")
                names.add(alert)
                if expr.count("(") != expr.count(")"):
                    failures.append(f"alert {alert}: unbalanced parentheses in expr")
                for m in METRIC.findall(expr):
                    if base(m) not in known:
                        failures.append(f"alert {alert} uses {m}, which the issuer does not "
                                        "export")
    for f in failures:
        print(f"FAIL {f}")
    if failures:
        print(f"{len(failures)} problem(s) in docs/OPERATIONS.md")
        return 1
    print(f"docs/OPERATIONS.md: {len(known)} metrics documented, {rules} alert rules parse")
    return 0


if __name__ == "__main__":
    sys.exit(main())
