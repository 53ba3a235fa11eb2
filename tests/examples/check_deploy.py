#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks the deployment examples under examples/deploy/.

systemd units: `systemd-analyze verify` (and an offline `security` score) when
systemd-analyze is installed, else a structural check only, said so in the output; both
ways the hardening settings the examples promise must be present.
docker-compose and Kubernetes files: parsed as YAML, then checked for the shape the README
describes (read-only identity mounts, the libmesh environment variables, references that
resolve). README.md: its JSON config snippets parse and use only known issuer config keys.
Every file says at its top that it is an example; none names a path of a developer machine.

usage: check_deploy.py SOURCE_ROOT   (exit 0 all good, 1 a check failed)
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

FAILURES = []


def fail(path, msg):
    FAILURES.append(f"{path}: {msg}")


def rel(root, path):
    return os.path.relpath(path, root)


# ---- every file -----------------------------------------------------------------------

MACHINE_PATHS = re.compile(r"(^|[\s\"'=:])/(work|root|home/[a-z])")


def check_common(root, path, text):
    name = rel(root, path)
    if MACHINE_PATHS.search(text):
        fail(name, "names a path of a developer machine; use a deployment path like /etc/mesh")
    if path.endswith("README.md"):
        return
    head = [line for line in text.splitlines() if line.strip()][:2]
    if not head or not head[0].lstrip().startswith("#") or "example" not in head[0].lower():
        fail(name, "the first line must be a comment saying the file is an EXAMPLE")


# ---- systemd --------------------------------------------------------------------------

SECTIONS = {"Unit", "Service", "Install"}

# What DESIGN/issue 6 promise for each unit: (key, required value or None for "any",
# or a callable on the list of values).
ISSUER_REQUIRED = [
    ("DynamicUser", "yes"),
    ("ProtectSystem", "strict"),
    ("NoNewPrivileges", "yes"),
    ("PrivateTmp", "yes"),
    ("ProtectHome", "yes"),
    ("CapabilityBoundingSet", ""),
    ("RestrictAddressFamilies", None),
    ("SystemCallFilter", "@system-service"),
    ("StateDirectory", None),
    ("ExecReload", lambda vs: any("-HUP" in v for v in vs)),
    ("ExecStart", lambda vs: any(" serve " in v and "--config" in v for v in vs)),
]
SERVICE_REQUIRED = [
    ("DynamicUser", "yes"),
    ("ProtectSystem", "strict"),
    ("NoNewPrivileges", "yes"),
    ("CapabilityBoundingSet", ""),
    ("Environment", lambda vs: all(any(v.startswith(k + "=") for v in vs)
                                   for k in ("TLS_CERT_PATH", "TLS_KEY_PATH", "TLS_CA_PATH",
                                             "MESH_ISSUER_URL"))),
]


def parse_unit(path):
    """Returns {section: {key: [values]}}, recording syntax errors as failures."""
    units = {}
    section = None
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for n, line in enumerate(lines, 1):
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        m = re.fullmatch(r"\[([A-Za-z]+)\]", s)
        if m:
            section = m.group(1)
            if section not in SECTIONS:
                fail(path, f"line {n}: unknown section [{section}]")
            units.setdefault(section, {})
            continue
        m = re.fullmatch(r"([A-Z][A-Za-z]*)=(.*)", s)
        if m is None:
            fail(path, f"line {n}: not KEY=VALUE: {s}")
            continue
        if section is None:
            fail(path, f"line {n}: {m.group(1)}= before any [section]")
            continue
        units[section].setdefault(m.group(1), []).append(m.group(2).strip())
    return units


def check_unit_structure(root, path):
    name = rel(root, path)
    unit = parse_unit(path)
    for s in SECTIONS:
        if s not in unit:
            fail(name, f"no [{s}] section")
    service = unit.get("Service", {})
    if not service.get("ExecStart"):
        fail(name, "no ExecStart=")
    required = ISSUER_REQUIRED if os.path.basename(path) == "mesh-issuer.service" \
        else SERVICE_REQUIRED
    for key, want in required:
        values = service.get(key)
        if values is None:
            fail(name, f"[Service] lacks {key}=")
        elif callable(want):
            if not want(values):
                fail(name, f"[Service] {key}= does not do what the example promises: {values}")
        elif want is not None and want not in values:
            fail(name, f"[Service] {key}= should be '{want}', is {values}")
    if "mesh-issuer" in os.path.basename(path) and not (
            service.get("LoadCredential") or service.get("ReadOnlyPaths")):
        fail(name, "certificates should come through LoadCredential= or ReadOnlyPaths=")


def check_units_systemd(root, units):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        print("systemd-analyze not found: structural check of the units only "
              "(install the systemd package for `systemd-analyze verify`)")
        return
    with tempfile.TemporaryDirectory(prefix="mesh-units-") as tmp:
        bindir = os.path.join(tmp, "bin")
        os.mkdir(bindir)
        copies = []
        for path in units:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            # One directory per unit, so that a unit's findings are not reported against
            # another one that names it (After=, Wants=).
            unitdir = os.path.join(tmp, os.path.basename(path) + ".d")
            os.mkdir(unitdir)
            # The programs are not installed here: point /usr/local/bin at stubs so verify
            # can check that every Exec*= command is an executable file.
            for prog in set(re.findall(r"/usr/local/bin/([A-Za-z0-9._-]+)", text)):
                stub = os.path.join(bindir, prog)
                with open(stub, "w", encoding="utf-8") as f:
                    f.write("#!/bin/sh\nexit 0\n")
                os.chmod(stub, 0o755)
            text = text.replace("/usr/local/bin/", bindir + "/")
            copy = os.path.join(unitdir, os.path.basename(path))
            with open(copy, "w", encoding="utf-8") as f:
                f.write(text)
            copies.append((path, copy))
        for path, copy in copies:
            name = rel(root, path)
            unitdir = os.path.dirname(copy)
            r = subprocess.run([tool, "verify", "--man=no", "--generators=no", copy],
                               capture_output=True, text=True, cwd=unitdir, check=False)
            # verify exits 0 on unknown keys and bad values (it only warns): any output is
            # a finding.
            out = (r.stdout + r.stderr).replace(unitdir + "/", "").replace(bindir + "/", "")
            out = out.strip()
            if r.returncode != 0 or out:
                fail(name, f"systemd-analyze verify: {out or 'exit status %d' % r.returncode}")
            else:
                print(f"ok: systemd-analyze verify {name}")
            # Offline exposure score (0 = best, 10 = worst; --threshold is in tenths).
            r = subprocess.run([tool, "security", "--offline=yes", "--threshold=20",
                                "--no-pager", copy],
                               capture_output=True, text=True, cwd=unitdir, check=False)
            m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout)
            if r.returncode != 0:
                fail(name, "systemd-analyze security: exposure above 2.0 "
                     f"({m.group(1) if m else 'unknown'}); keep the sandbox settings")
            elif m:
                print(f"ok: systemd-analyze security {name}: exposure {m.group(1)}")


# ---- docker compose -------------------------------------------------------------------

LIBMESH_ENV = ("TLS_CERT_PATH", "TLS_KEY_PATH", "TLS_CA_PATH", "MESH_ISSUER_URL")


def env_dict(env):
    if isinstance(env, dict):
        return {str(k): str(v) for k, v in env.items()}
    if isinstance(env, list):
        return dict(str(e).split("=", 1) if "=" in str(e) else (str(e), "") for e in env)
    return {}


def check_compose(root, path):
    name = rel(root, path)
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict):
        fail(name, "no services: mapping")
        return
    services = doc["services"]
    declared_volumes = set((doc.get("volumes") or {}).keys())
    for svc, spec in services.items():
        if not isinstance(spec, dict):
            fail(name, f"service {svc} is not a mapping")
            continue
        if not spec.get("image") and not spec.get("build"):
            fail(name, f"service {svc} has neither image nor build")
        for dep in spec.get("depends_on") or []:
            if dep not in services:
                fail(name, f"service {svc} depends on unknown service {dep}")
        for v in spec.get("volumes") or []:
            if not isinstance(v, str):
                fail(name, f"service {svc}: use the short volume syntax (SRC:DST[:ro]): {v}")
                continue
            parts = v.split(":")
            src = parts[0]
            if src.startswith("."):
                if len(parts) < 3 or "ro" not in parts[2].split(","):
                    fail(name, f"service {svc}: host file mounted writable: {v}")
                if src.rstrip("/") in ("./certs", "certs"):
                    fail(name, f"service {svc}: mounts the whole certs/ (CA keys): {v}")
                if src.endswith((".key",)) and "jwt" not in src:
                    fail(name, f"service {svc}: mounts a CA key: {v}")
            elif src not in declared_volumes:
                fail(name, f"service {svc}: volume {src} is not declared under volumes:")
        env = env_dict(spec.get("environment"))
        if any(k in env for k in LIBMESH_ENV):
            missing = [k for k in LIBMESH_ENV if k not in env]
            if missing:
                fail(name, f"service {svc} lacks {', '.join(missing)}")
            mounts = [v.split(":")[1] for v in spec.get("volumes") or [] if isinstance(v, str)]
            for k in LIBMESH_ENV[:3]:
                if k in env and not any(env[k] == m or env[k].startswith(m.rstrip("/") + "/")
                                        for m in mounts):
                    fail(name, f"service {svc}: {k}={env[k]} is not inside a mounted path")
            if not env.get("MESH_ISSUER_URL", "").startswith("https://"):
                fail(name, f"service {svc}: MESH_ISSUER_URL must be https://")
    if not any(any(k in env_dict(s.get("environment")) for k in LIBMESH_ENV)
               for s in services.values() if isinstance(s, dict)):
        fail(name, "no service carries the libmesh environment variables")
    print(f"ok: YAML {name} ({len(services)} services)")


# ---- Kubernetes -----------------------------------------------------------------------

def check_kubernetes(root, path):
    name = rel(root, path)
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    if not docs:
        fail(name, "no YAML documents")
        return
    secrets = set()
    for d in docs:
        if not isinstance(d, dict):
            fail(name, "a document is not a mapping")
            continue
        for key in ("apiVersion", "kind", "metadata"):
            if key not in d:
                fail(name, f"a document lacks {key}")
        if not (d.get("metadata") or {}).get("name"):
            fail(name, f"{d.get('kind')} lacks metadata.name")
        if d.get("kind") == "Secret":
            secrets.add(d["metadata"]["name"])
    for d in docs:
        if not isinstance(d, dict) or d.get("kind") != "Deployment":
            continue
        dn = d["metadata"].get("name")
        spec = d.get("spec") or {}
        tmpl = spec.get("template") or {}
        sel = (spec.get("selector") or {}).get("matchLabels") or {}
        labels = (tmpl.get("metadata") or {}).get("labels") or {}
        if not sel or any(labels.get(k) != v for k, v in sel.items()):
            fail(name, f"Deployment {dn}: selector.matchLabels do not match the pod labels")
        pod = tmpl.get("spec") or {}
        volumes = {v.get("name"): v for v in pod.get("volumes") or []}
        for v in volumes.values():
            sn = (v.get("secret") or {}).get("secretName")
            if sn is not None and sn not in secrets:
                fail(name, f"Deployment {dn}: volume {v.get('name')} uses Secret {sn}, "
                     "which this file does not define")
        containers = pod.get("containers") or []
        if not containers:
            fail(name, f"Deployment {dn}: no containers")
        for c in containers:
            cn = c.get("name")
            env = {e.get("name"): e.get("value") for e in c.get("env") or []}
            missing = [k for k in LIBMESH_ENV if k not in env]
            if missing:
                fail(name, f"container {cn} lacks {', '.join(missing)}")
            mounts = c.get("volumeMounts") or []
            for m in mounts:
                if m.get("name") not in volumes:
                    fail(name, f"container {cn} mounts unknown volume {m.get('name')}")
                if "secret" in volumes.get(m.get("name"), {}) and not m.get("readOnly"):
                    fail(name, f"container {cn}: Secret volume {m.get('name')} not readOnly")
            for k in LIBMESH_ENV[:3]:
                p = env.get(k) or ""
                if not any(p.startswith(m.get("mountPath", "").rstrip("/") + "/")
                           for m in mounts):
                    fail(name, f"container {cn}: {k}={p} is not inside a volumeMount")
            sc = c.get("securityContext") or {}
            if sc.get("allowPrivilegeEscalation") is not False:
                fail(name, f"container {cn}: allowPrivilegeEscalation should be false")
    print(f"ok: YAML {name} ({len(docs)} documents)")


# ---- README ---------------------------------------------------------------------------

ISSUER_KEYS = {"issuer", "listen", "tls", "signing_keys", "store", "tokens", "audiences",
               "policy", "admins", "rate_limits", "workers", "max_connections",
               "jwks_max_age"}


def check_readme(root, path):
    name = rel(root, path)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    blocks = re.findall(r"```json\n(.*?)```", text, re.S)
    if not blocks:
        fail(name, "no ```json issuer config snippet")
    for i, b in enumerate(blocks, 1):
        try:
            cfg = json.loads(b)
        except json.JSONDecodeError as e:
            fail(name, f"JSON snippet {i} does not parse: {e}")
            continue
        unknown = set(cfg) - ISSUER_KEYS
        if unknown:
            fail(name, f"JSON snippet {i}: keys the issuer config does not know: "
                 f"{sorted(unknown)}")
        for key in ("issuer", "listen", "tls", "signing_keys", "store", "audiences"):
            if key not in cfg:
                fail(name, f"JSON snippet {i}: lacks the required key {key}")
    for ref in re.findall(r"\]\(([^)#:]+)\)", text):
        if not os.path.exists(os.path.join(os.path.dirname(path), ref)):
            fail(name, f"links to {ref}, which does not exist")
    print(f"ok: {name} ({len(blocks)} JSON snippets)")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = sys.argv[1]
    deploy = os.path.join(root, "examples", "deploy")
    if not os.path.isdir(deploy):
        print(f"{deploy}: no such directory", file=sys.stderr)
        return 1
    units, composes, kubes, readmes = [], [], [], []
    for dirpath, _, files in os.walk(deploy):
        for fn in sorted(files):
            p = os.path.join(dirpath, fn)
            with open(p, encoding="utf-8") as f:
                check_common(root, p, f.read())
            if fn.endswith((".service", ".timer", ".socket")):
                units.append(p)
            elif fn.endswith((".yml", ".yaml")):
                (composes if "compose" in fn else kubes).append(p)
            elif fn == "README.md":
                readmes.append(p)
    for kind, found in (("systemd unit", units), ("compose file", composes),
                        ("Kubernetes file", kubes), ("README.md", readmes)):
        if not found:
            fail("examples/deploy", f"no {kind} found")
    for p in units:
        check_unit_structure(root, p)
    check_units_systemd(root, units)
    for p in composes:
        try:
            check_compose(root, p)
        except yaml.YAMLError as e:
            fail(rel(root, p), f"not valid YAML: {e}")
    for p in kubes:
        try:
            check_kubernetes(root, p)
        except yaml.YAMLError as e:
            fail(rel(root, p), f"not valid YAML: {e}")
    for p in readmes:
        check_readme(root, p)
    for f in FAILURES:
        print(f"FAIL {f}")
    print(f"{len(FAILURES)} problem(s) in examples/deploy" if FAILURES
          else "examples/deploy: all checks passed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
