# SPDX-License-Identifier: Apache-2.0
"""The mesh client: tokens for peers from libmesh's cache (mesh_client_*)."""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from typing import Iterable, Optional, Union

from ._handle import Handle
from ._lib import c_int64, c_void_p, lib
from .errors import MeshError, check, enc, take_string

Scopes = Union[None, str, Iterable[str]]


def scope_string(scopes: Scopes) -> Optional[str]:
    """None, "a b" or ["a", "b"] as the space-separated scope libmesh takes."""
    if scopes is None or isinstance(scopes, str):
        return scopes or None
    words = list(scopes)
    for w in words:
        if not isinstance(w, str) or not w or " " in w:
            raise ValueError(f"scopes: {w!r} is not one scope word")
    return " ".join(words) or None


@dataclass(frozen=True)
class IdentityFiles:
    """The files a service presents and trusts (mesh_env_identity): its certificate and key
    (None in service-token mode) and the mesh CA."""

    cert_path: Optional[str]
    key_path: Optional[str]
    ca_path: str


def env_identity(service_name: str) -> IdentityFiles:
    """The identity files from the environment, as libmesh reads them: TLS_CERT_PATH,
    TLS_KEY_PATH, TLS_CA_PATH, or MESH_CERTS_DIR/<service>/{cert,key}.pem and
    MESH_CERTS_DIR/ca.pem. Raises MeshError (reason "config_error"...) naming the variable."""
    cert, key, ca = c_void_p(), c_void_p(), c_void_p()
    name = enc(service_name, "service_name")
    rc = lib.mesh_env_identity(name, ctypes.byref(cert), ctypes.byref(key), ctypes.byref(ca))
    if rc != 0:
        # Service-token mode needs only the CA: ask for that alone.
        err = rc
        detail = lib.mesh_err_detail().decode(errors="replace")
        rc = lib.mesh_env_identity(name, None, None, ctypes.byref(ca))
        if rc != 0 or not os.environ.get("MESH_CLIENT_ID"):
            lib.mesh_free(ca)
            raise MeshError(err, detail, "mesh_env_identity")
        return IdentityFiles(None, None, take_string(ca))
    return IdentityFiles(take_string(cert), take_string(key), take_string(ca))


class Client:
    """A service's mesh client: its certificate, and a token cache in front of mesh-issuer
    that refreshes tokens in the background before they expire.

    Thread-safe and meant to live as long as the process; close it (or use ``with``) at the
    end. Build one with ``Client.from_env(name)`` (the same environment contract as C) or
    with keyword arguments naming each option.
    """

    def __init__(
        self,
        *,
        issuer_url: str,
        ca_path: str,
        cert_path: Optional[str] = None,
        key_path: Optional[str] = None,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        issuer_id: Optional[str] = None,
        token_ttl: Optional[int] = None,
        refresh_fraction: Optional[float] = None,
        cache_entries: Optional[int] = None,
        max_retries: Optional[int] = None,
        timeout_ms: Optional[int] = None,
    ) -> None:
        opts = c_void_p()
        check(lib.mesh_client_opts_new(ctypes.byref(opts)), "mesh_client_opts_new")
        try:
            strings = {
                "issuer_url": issuer_url,
                "ca_path": ca_path,
                "cert_path": cert_path,
                "key_path": key_path,
                "client_id": client_id,
                "client_secret": client_secret,
                "issuer_id": issuer_id,
            }
            for name, value in strings.items():
                if value is not None:
                    setter = getattr(lib, f"mesh_client_opts_set_{name}")
                    check(setter(opts, enc(value, name)), name)
            numbers = {
                "token_ttl": token_ttl,
                "refresh_fraction": refresh_fraction,
                "cache_entries": cache_entries,
                "max_retries": max_retries,
                "timeout_ms": timeout_ms,
            }
            for name, value in numbers.items():
                if value is not None:
                    check(getattr(lib, f"mesh_client_opts_set_{name}")(opts, value), name)
            ptr = c_void_p()
            check(lib.mesh_client_new(opts, ctypes.byref(ptr)), "mesh_client_new")
        finally:
            lib.mesh_client_opts_free(opts)
        self._h = Handle(ptr, lib.mesh_client_free, "mesh.Client")
        self.files = IdentityFiles(cert_path, key_path, ca_path)
        self.issuer_url = issuer_url

    @classmethod
    def from_env(cls, service_name: str) -> "Client":
        """A client configured from the environment (mesh_client_from_env): the identity
        files (see ``env_identity``), MESH_ISSUER_URL, MESH_CLIENT_ID + MESH_CLIENT_SECRET for
        service-token mode, MESH_ISSUER_ID. Raises MeshError naming a missing variable or a
        wrong file. Reads files; does not contact the issuer."""
        ptr = c_void_p()
        check(lib.mesh_client_from_env(enc(service_name, "service_name"), ctypes.byref(ptr)),
              "mesh_client_from_env")
        self = cls.__new__(cls)
        self._h = Handle(ptr, lib.mesh_client_free, "mesh.Client")
        try:
            self.files = env_identity(service_name)
        except BaseException:
            self._h.close()
            raise
        self.issuer_url = os.environ.get("MESH_ISSUER_URL", "")
        return self

    def token_and_expiry(self, audience: str, scopes: Scopes = None) -> tuple[str, int]:
        """As ``token``, with the token's expiry (seconds since the epoch)."""
        out, exp = c_void_p(), c_int64()
        aud, scope = enc(audience, "audience"), enc(scope_string(scopes), "scopes")
        ptr = self._h.acquire()
        try:
            rc = lib.mesh_client_token(ptr, aud, scope, ctypes.byref(out), ctypes.byref(exp))
            check(rc, f"token for {audience}")
        finally:
            self._h.release()
        return take_string(out), exp.value

    def token(self, audience: str, scopes: Scopes = None) -> str:
        """A bearer token for `audience` (and `scopes`: None for the issuer's default, "a b"
        or ["a", "b"]) from libmesh's cache, else from the issuer. Blocks on a cache miss
        (use ``atoken`` in asyncio). Raises MeshError ("issuer_error" with the issuer's
        error in the detail, "network_error", "tls_error")."""
        return self.token_and_expiry(audience, scopes)[0]

    async def atoken(self, audience: str, scopes: Scopes = None) -> str:
        """``token`` in a thread of the running loop's default executor, so a cache miss
        (an issuer round trip) never blocks the event loop."""
        import asyncio

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self.token, audience, scopes)

    def stat(self, which: int) -> int:
        """A counter (0 issuer requests, 1 cache hits, 2 background refreshes)."""
        ptr = self._h.acquire()
        try:
            return int(lib.mesh_client_stat(ptr, which))
        finally:
            self._h.release()

    def close(self) -> None:
        """Stops the refresh thread and wipes the tokens; waits for calls in flight. Idempotent."""
        self._h.close()

    @property
    def closed(self) -> bool:
        return self._h.closed

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        h = getattr(self, "_h", None)
        if h is not None:
            h.close()
