# SPDX-License-Identifier: Apache-2.0
"""Fixtures: a real mesh-ca and mesh-issuer, and real uvicorn processes running
examples/python-service, on 127.0.0.1 ports chosen at run time, in a temp dir; every
process is stopped by its PID at the end."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, Optional

import pytest

try:
    import fastapi  # noqa: F401
    import httpx  # noqa: F401
    import requests
    import uvicorn  # noqa: F401
except ImportError as e:  # a clear failure, never a skip that passes unrun
    raise SystemExit(f"tests/python: {e.name} is missing: run ./dev deps (Debian's "
                     "python3-fastapi python3-uvicorn python3-httpx python3-requests)")

BUILD = Path(os.environ.get("MESH_BUILD_ROOT", "build")).resolve()
SOURCE = Path(os.environ.get("MESH_SOURCE_ROOT", Path(__file__).resolve().parents[2]))
PYPATH = str(SOURCE / "libmesh" / "python")
os.environ.setdefault("MESH_BUILD_ROOT", str(BUILD))
sys.path.insert(0, PYPATH)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, what: str, log: Optional[Path] = None, tries: int = 400,
               proc: Optional[subprocess.Popen] = None) -> None:
    for _ in range(tries):
        if proc is not None and proc.poll() is not None:
            break
        try:
            if pred():
                return
        except (requests.RequestException, OSError):
            pass
        time.sleep(0.05)
    tail = log.read_text()[-2000:] if log and log.exists() else ""
    raise AssertionError(f"{what} did not come up; log:\n{tail}")


class Mesh:
    """A mesh-ca made CA and certificates, and one running mesh-issuer."""

    SERVICES = ("issuer", "svc-a", "svc-b", "svc-c")

    def __init__(self, root: Path) -> None:
        self.root = root
        self.certs = root / "certs"
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.config = root / "issuer.json"
        self.proc: Optional[subprocess.Popen] = None

    def path(self, rel: str) -> str:
        return str(self.certs / rel)

    def files(self, svc: str) -> tuple[str, str]:
        return self.path(f"{svc}/cert.pem"), self.path(f"{svc}/key.pem")

    @property
    def ca(self) -> str:
        return self.path("ca.pem")

    def setup(self) -> None:
        tmpl = self.root / "tmpl.json"
        tmpl.write_text(json.dumps({"trust_domain": "mesh.local",
                                    "services": [{"name": s} for s in self.SERVICES]}))
        with open(self.root / "mesh-ca.log", "w") as log:
            subprocess.run([str(BUILD / "ca" / "mesh-ca"), "init", "--template", str(tmpl),
                            "--dir", str(self.certs)], stdout=log, stderr=log, check=True)
        self.config.write_text(json.dumps({
            "issuer": self.url, "listen": f"127.0.0.1:{self.port}",
            "tls": {"cert": "certs/issuer/cert.pem", "key": "certs/issuer/key.pem",
                    "ca": "certs/ca.pem"},
            "signing_keys": {"current": "certs/jwt-signing.key"},
            "store": "sqlite:issuer.db",
            "audiences": [{"name": "svc-b", "scopes": ["read", "write"]}],
            "policy": [
                {"identity": "spiffe://mesh.local/svc-a", "audiences": ["svc-b"]},
                {"identity": "spiffe://mesh.local/svc-b", "audiences": ["svc-b"]},
            ],
            "rate_limits": {"per_identity": {"rate": 100000, "burst": 100000},
                            "per_source": {"rate": 100000, "burst": 100000}},
            "jwks_max_age": 60}))

    def start(self) -> None:
        log = open(self.root / "issuer.log", "ab")
        self.proc = subprocess.Popen(
            [str(BUILD / "issuer" / "mesh-issuer"), "serve", "--config", str(self.config),
             "--workers", "1"], stdout=log, stderr=log, cwd=self.root)
        log.close()
        wait_until(lambda: requests.get(self.url + "/healthz", verify=self.ca,
                                        timeout=2).status_code == 200,
                   "mesh-issuer", self.root / "issuer.log", proc=self.proc)

    def stop(self) -> None:
        stop_proc(self.proc)
        self.proc = None

    def env(self, svc: str) -> dict[str, str]:
        """The environment a service `svc` of this mesh runs with."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MESH_", "TLS_")) or k in ("MESH_BUILD_ROOT",
                                                                "MESH_SOURCE_ROOT")}
        env.update(MESH_CERTS_DIR=str(self.certs), MESH_ISSUER_URL=self.url,
                   MESH_ISSUER_ID="spiffe://mesh.local/issuer")
        return env

    def revoke(self, token: str, as_svc: str = "svc-a") -> int:
        r = requests.post(self.url + "/v1/revoke", data={"token": token}, verify=self.ca,
                          cert=self.files(as_svc), timeout=5)
        return r.status_code


def stop_proc(proc: Optional[subprocess.Popen]) -> None:
    if proc is not None and proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="mesh-python-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def mesh_net(tmp_root: Path) -> Iterator[Mesh]:
    for b in ("ca/mesh-ca", "issuer/mesh-issuer"):
        if not os.access(BUILD / b, os.X_OK):
            pytest.fail(f"{BUILD / b} is not built (run ./dev build)")
    m = Mesh(tmp_root)
    m.setup()
    m.start()
    yield m
    m.stop()


@pytest.fixture
def env_for(mesh_net: Mesh, monkeypatch: pytest.MonkeyPatch):
    """Sets this process's environment to that of service `svc`."""

    def apply(svc: str) -> None:
        for k in list(os.environ):
            if k.startswith(("MESH_", "TLS_")) and k not in ("MESH_BUILD_ROOT",
                                                             "MESH_SOURCE_ROOT"):
                monkeypatch.delenv(k)
        for k, v in mesh_net.env(svc).items():
            if k.startswith("MESH_"):
                monkeypatch.setenv(k, v)

    return apply


class Service:
    """examples/python-service in a real uvicorn process, as service `name`."""

    def __init__(self, mesh_net: Mesh, name: str, **extra: str) -> None:
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.log = mesh_net.root / f"python-service-{self.port}.log"
        self.env = mesh_net.env(name)
        self.env.update(MESH_SERVICE=name, LISTEN=f"127.0.0.1:{self.port}",
                        PYTHONPATH=PYPATH, MESH_BUILD_ROOT=str(BUILD))
        self.env.update(extra)
        self.proc: Optional[subprocess.Popen] = None

    def stop(self) -> None:
        stop_proc(self.proc)


@pytest.fixture(scope="session")
def service(mesh_net: Mesh) -> Iterator[Service]:
    """python-service as svc-b (audience svc-b), terminating mTLS itself, no trusted proxy;
    GET /peer calls its own /whoami through the mesh client (async httpx transport)."""
    s = Service(mesh_net, "svc-b", MESH_PEER_AUDIENCE="svc-b")
    s.env["MESH_PEER_URL"] = s.url + "/whoami"
    yield from _run(mesh_net, s)


def _run(mesh_net: Mesh, s: Service) -> Iterator[Service]:
    with open(s.log, "ab") as log:
        s.proc = subprocess.Popen(
            ["/usr/bin/python3", str(SOURCE / "examples" / "python-service" / "app.py")],
            env=s.env, stdout=log, stderr=log)
    try:
        wait_until(lambda: requests.get(
            s.url + "/healthz", verify=mesh_net.ca, cert=mesh_net.files("svc-a"),
            timeout=2).status_code == 200, "python-service", s.log, proc=s.proc)
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def proxied_service(mesh_net: Mesh) -> Iterator[Service]:
    """python-service as svc-b that trusts 127.0.0.1 as its proxy (nginx + mesh-authz)."""
    s = Service(mesh_net, "svc-b", MESH_TRUSTED_PROXIES="127.0.0.1",
                MESH_TRUST_BUNDLE=mesh_net.ca)
    yield from _run(mesh_net, s)


@pytest.fixture(scope="session")
def forwarded_service(mesh_net: Mesh) -> Iterator[Service]:
    """python-service as svc-b behind the gateway, which is played by svc-a here:
    MESH_TRUSTED_FORWARDERS names svc-a's SPIFFE ID."""
    s = Service(mesh_net, "svc-b", MESH_TRUSTED_FORWARDERS="spiffe://mesh.local/svc-a")
    yield from _run(mesh_net, s)
