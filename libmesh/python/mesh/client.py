# SPDX-License-Identifier: Apache-2.0
"""The mesh client: tokens for peers from libmesh's cache (mesh_client_*)."""

from __future__ import annotations

import ctypes
import os
import threading
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Union

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
    MESH_CERTS_DIR/ca.pem. In service-token mode (MESH_CLIENT_ID and MESH_CLIENT_SECRET set,
    as mesh_client_from_env decides) only the CA: cert_path and key_path are None. Raises
    MeshError ("config_invalid") naming the variable that is missing."""
    name = enc(service_name, "service_name")
    cert, key, ca = c_void_p(), c_void_p(), c_void_p()
    if os.environ.get("MESH_CLIENT_ID") and os.environ.get("MESH_CLIENT_SECRET"):
        check(lib.mesh_env_identity(name, None, None, ctypes.byref(ca)), "mesh_env_identity")
        return IdentityFiles(None, None, take_string(ca))
    check(lib.mesh_env_identity(name, ctypes.byref(cert), ctypes.byref(key), ctypes.byref(ca)),
          "mesh_env_identity")
    return IdentityFiles(take_string(cert), take_string(key), take_string(ca))


def _new_client(kw: dict) -> c_void_p:
    """mesh_client_new from keyword options (Client's), as a new handle."""
    opts = c_void_p()
    check(lib.mesh_client_opts_new(ctypes.byref(opts)), "mesh_client_opts_new")
    try:
        for name in ("issuer_url", "ca_path", "cert_path", "key_path", "client_id",
                     "client_secret", "issuer_id"):
            if kw.get(name) is not None:
                setter = getattr(lib, f"mesh_client_opts_set_{name}")
                check(setter(opts, enc(kw[name], name)), name)
        for name in ("token_ttl", "refresh_fraction", "cache_entries", "max_retries",
                     "timeout_ms"):
            if kw.get(name) is not None:
                check(getattr(lib, f"mesh_client_opts_set_{name}")(opts, kw[name]), name)
        ptr = c_void_p()
        check(lib.mesh_client_new(opts, ctypes.byref(ptr)), "mesh_client_new")
        return ptr
    finally:
        lib.mesh_client_opts_free(opts)


def _client_from_env(service_name: str) -> c_void_p:
    ptr = c_void_p()
    check(lib.mesh_client_from_env(enc(service_name, "service_name"), ctypes.byref(ptr)),
          "mesh_client_from_env")
    return ptr


class Client:
    """A service's mesh client: its certificate, and a token cache in front of mesh-issuer
    that refreshes tokens in the background before they expire.

    Thread-safe and meant to live as long as the process; close it (or use ``with``) at the
    end. Build one with ``Client.from_env(name)`` (the same environment contract as C) or
    with keyword arguments naming each option (those of mesh_client_opts_set_*).
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
        kw = dict(issuer_url=issuer_url, ca_path=ca_path, cert_path=cert_path,
                  key_path=key_path, client_id=client_id, client_secret=client_secret,
                  issuer_id=issuer_id, token_ttl=token_ttl, refresh_fraction=refresh_fraction,
                  cache_entries=cache_entries, max_retries=max_retries, timeout_ms=timeout_ms)
        self._setup(_new_client(kw), IdentityFiles(cert_path, key_path, ca_path), issuer_url,
                    lambda: _new_client(kw))

    @classmethod
    def from_env(cls, service_name: str) -> "Client":
        """A client configured from the environment (mesh_client_from_env): the identity
        files (see ``env_identity``), MESH_ISSUER_URL, MESH_CLIENT_ID + MESH_CLIENT_SECRET for
        service-token mode, MESH_ISSUER_ID. Raises MeshError naming a missing variable or a
        wrong file. Reads files; does not contact the issuer."""
        ptr = _client_from_env(service_name)
        self = cls.__new__(cls)
        try:
            files = env_identity(service_name)
        except BaseException:
            lib.mesh_client_free(ptr)
            raise
        # check_renewal reads the environment again (normally unchanged) and the new files.
        self._setup(ptr, files, os.environ.get("MESH_ISSUER_URL", ""),
                    lambda: _client_from_env(service_name))
        return self

    def _setup(self, ptr: c_void_p, files: IdentityFiles, issuer_url: str,
               factory: Callable[[], c_void_p]) -> None:
        from ._tls import file_stamp

        self._h = Handle(ptr, lib.mesh_client_free, "mesh.Client")
        self.files = files
        self.issuer_url = issuer_url
        self._factory = factory
        self._stamp = file_stamp(files)
        self._reload_lock = threading.Lock()

    def check_renewal(self) -> bool:
        """When the certificate, key or CA file changed since the client was made (a
        certificate renewal, new files renamed into place), makes a new libmesh client from
        the same options and puts it in place of the old one, whose cached tokens are bound
        to the old certificate (a peer would refuse them beside the new one: cnf_mismatch).
        Calls in flight finish on the old client. The transports call this before each
        request. True when it reloaded. Files that do not fit together yet (a renewal half
        done) keep the old client; the next call tries again."""
        from ._tls import file_stamp

        if file_stamp(self.files) == self._stamp:
            return False
        with self._reload_lock:
            stamp = file_stamp(self.files)
            if stamp == self._stamp:
                return False
            try:
                ptr = self._factory()
            except MeshError:
                return False
            old, self._h = self._h, Handle(ptr, lib.mesh_client_free, "mesh.Client")
            self._stamp = stamp
        old.close()
        return True

    def token_and_expiry(self, audience: str, scopes: Scopes = None) -> tuple[str, int]:
        """As ``token``, with the token's expiry (seconds since the epoch)."""
        out, exp = c_void_p(), c_int64()
        aud, scope = enc(audience, "audience"), enc(scope_string(scopes), "scopes")
        self.check_renewal()
        h = self._h  # the one acquired is the one released, across a reload
        ptr = h.acquire()
        try:
            rc = lib.mesh_client_token(ptr, aud, scope, ctypes.byref(out), ctypes.byref(exp))
            check(rc, f"token for {audience}")
        finally:
            h.release()
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
        h = self._h
        ptr = h.acquire()
        try:
            return int(lib.mesh_client_stat(ptr, which))
        finally:
            h.release()

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
