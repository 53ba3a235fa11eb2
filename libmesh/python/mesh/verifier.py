# SPDX-License-Identifier: Apache-2.0
"""The verifier: bearer tokens, their certificate binding and revocation (mesh_verify)."""

from __future__ import annotations

import abc
import ctypes
import os
import ssl
from typing import Iterable, Optional, Union

from ._handle import Handle
from ._lib import c_void_p, lib
from .errors import ERR_NOT_FOUND, MeshError, check, enc, take_string

_FREE_IDENTITY = lib.mesh_identity_free
_VERIFY = lib.mesh_verify
_VERIFY_PEM = lib.mesh_verify_pem
_byref = ctypes.byref


class Identity(metaclass=abc.ABCMeta):
    """A verified caller: what its token said. Immutable; any thread may read it.

    Holds a reference to libmesh's identity object (dropped when this is garbage collected);
    the attributes are read from it on first use. This class is the ctypes path's; the
    compiled path (mesh._fast) returns its own Identity type with the same attributes,
    registered here so that ``isinstance(x, mesh.Identity)`` holds for both.
    """

    __slots__ = ("_ptr", "__weakref__")

    def __init__(self, ptr: c_void_p) -> None:
        self._ptr = ptr

    def __del__(self, _free: object = _FREE_IDENTITY) -> None:
        # _free bound at definition: module globals may be gone at interpreter exit.
        ptr, self._ptr = self._ptr, None
        if ptr:
            _free(ptr)  # type: ignore[operator]

    def _s(self, fn: object) -> str:
        return fn(self._ptr).decode()  # type: ignore[operator]

    @property
    def issuer(self) -> str:
        """iss"""
        return self._s(lib.mesh_identity_issuer)

    @property
    def subject(self) -> str:
        """sub: the caller's SPIFFE ID, or svc-token:<name> for a service token."""
        return self._s(lib.mesh_identity_subject)

    @property
    def audience(self) -> str:
        """The first of the verifier's audiences that the token's aud names."""
        return self._s(lib.mesh_identity_audience)

    @property
    def scope(self) -> str:
        """The token's scopes, space-separated ("" for none)."""
        return self._s(lib.mesh_identity_scopes)

    @property
    def scopes(self) -> list[str]:
        """The token's scopes as a list."""
        return self.scope.split()

    @property
    def token_id(self) -> str:
        """jti ("" when absent)."""
        return self._s(lib.mesh_identity_jti)

    @property
    def client_id(self) -> str:
        """client_id ("" when absent)."""
        return self._s(lib.mesh_identity_client_id)

    @property
    def x5t(self) -> str:
        """cnf.x5t#S256 ("" for an unbound token)."""
        return self._s(lib.mesh_identity_x5t)

    @property
    def expiry(self) -> int:
        """exp, seconds since the epoch."""
        return int(lib.mesh_identity_expiry(self._ptr))

    @property
    def issued_at(self) -> int:
        """iat"""
        return int(lib.mesh_identity_issued_at(self._ptr))

    @property
    def bound(self) -> bool:
        """True when the token was bound to the certificate that presented it."""
        return bool(lib.mesh_identity_bound(self._ptr))

    def has_scope(self, scope: str) -> bool:
        """True when `scope` is exactly one of the token's scopes."""
        return bool(lib.mesh_identity_has_scope(self._ptr, enc(scope, "scope")))

    def has_audience(self, audience: str) -> bool:
        """True when the token's aud names `audience` (a string or one array element)."""
        return bool(lib.mesh_identity_has_audience(self._ptr, enc(audience, "audience")))

    def claim(self, name: str) -> Optional[str]:
        """One top-level claim as text (mesh_identity_claim: a string as is, anything else
        as compact JSON); None when the token has no such claim."""
        out = c_void_p()
        rc = lib.mesh_identity_claim(self._ptr, enc(name, "name"), ctypes.byref(out))
        if rc == ERR_NOT_FOUND:
            return None
        check(rc, f"claim {name}")
        return take_string(out)

    def claims_json(self) -> str:
        """The token's whole claims object as compact JSON."""
        out = c_void_p()
        check(lib.mesh_identity_to_json(self._ptr, ctypes.byref(out)), "claims")
        return take_string(out)

    def __repr__(self) -> str:
        return f"Identity(subject={self.subject!r}, audience={self.audience!r}, scope={self.scope!r})"


def _pem_leaf_der(pem: Union[str, bytes]) -> bytes:
    text = pem.decode("ascii") if isinstance(pem, bytes) else pem
    end = "-----END CERTIFICATE-----"
    i = text.find(end)
    if "-----BEGIN CERTIFICATE-----" not in text or i < 0:
        raise ValueError("peer_cert_pem: no PEM CERTIFICATE block")
    return ssl.PEM_cert_to_DER_cert(text[: i + len(end)].strip() + "\n")


_JWKS_SOURCES = {"issuer": 0, "url": 1, "file": 2, "oidc": 3}


def _load_fast() -> tuple[object, str]:
    """The compiled path (mesh._fast) and why it is or is not used. Looked for in the build
    tree named by $MESH_BUILD_ROOT (as _lib finds libmesh there), then beside this package
    (meson install). MESH_PYTHON_FAST=0 turns it off (the tests run both paths)."""
    if os.environ.get("MESH_PYTHON_FAST", "1") == "0":
        return None, "off: MESH_PYTHON_FAST=0"
    import importlib.machinery
    import importlib.util

    mod = None
    build = os.environ.get("MESH_BUILD_ROOT")
    if build:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(build, "libmesh", "python", "_fast" + suffix)
            if os.path.exists(path):
                spec = importlib.util.spec_from_file_location(f"{__package__}._fast", path)
                if spec is None or spec.loader is None:
                    continue
                try:
                    mod = importlib.util.module_from_spec(spec)
                    spec.loader.exec_module(mod)
                except ImportError as e:
                    return None, f"ctypes: {path}: {e}"
                break
    if mod is None:
        try:
            from . import _fast as mod  # type: ignore[attr-defined,no-redef]
        except ImportError as e:
            return None, f"ctypes: mesh._fast not built or not importable ({e})"
    # One libmesh for both doors: the extension's mesh_verify must be the one ctypes loaded,
    # else a verifier made through ctypes would be handed to another copy of the library.
    if mod.mesh_verify_address() != ctypes.cast(lib.mesh_verify, c_void_p).value:
        return None, f"ctypes: {mod.__file__} links another libmesh.so than {lib._name}"
    mod.setup(MeshError, _pem_leaf_der)
    Identity.register(mod.Identity)
    return mod, f"compiled: {mod.__file__}"


_fast, fast_path = _load_fast()
fast = _fast is not None
"""True when mesh.Verifier.verify runs through the compiled extension mesh._fast; fast_path
says which file, or why the ctypes path is used."""


class Verifier:
    """Verifies bearer tokens: signature (keys from a cached JWKS), every claim rule,
    revocation (a background poll of the issuer's feed) and the RFC 8705 binding to the
    client certificate that presented the token.

    Thread-safe: any number of threads may call ``verify`` at once (the libmesh call runs
    without the GIL). ``verify`` blocks only when a token names a key the verifier has not
    seen (a JWKS fetch of at most 10 s, at most once per cooldown); in asyncio use
    ``averify``, which runs it in the loop's executor.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: Union[str, Iterable[str]],
        ca_path: Optional[str] = None,
        client_cert: Optional[str] = None,
        client_key: Optional[str] = None,
        issuer_id: Optional[str] = None,
        jwks_url: Optional[str] = None,
        jwks_file: Optional[str] = None,
        oidc: bool = False,
        binding: Optional[str] = None,
        profile: Optional[str] = None,
        typ: Optional[str] = None,
        algorithms: Optional[str] = None,
        required_claims: Optional[str] = None,
        trust_bundle: Optional[str] = None,
        crl_path: Optional[str] = None,
        skew: Optional[int] = None,
        max_lifetime: Optional[int] = None,
        revocation_feed: Optional[bool] = None,
        revocation_poll_ms: Optional[int] = None,
        jwks_cooldown_ms: Optional[int] = None,
        cache_entries: Optional[int] = None,
    ) -> None:
        if not isinstance(audience, str):
            audience = " ".join(audience)
        if sum(x is not None and x is not False for x in (jwks_url, jwks_file, oidc or None)) > 1:
            raise ValueError("Verifier: give at most one of jwks_url, jwks_file, oidc")
        opts = c_void_p()
        check(lib.mesh_verifier_opts_new(ctypes.byref(opts)), "mesh_verifier_opts_new")
        try:
            strings = {
                "issuer": issuer,
                "audience": audience,
                "ca_path": ca_path,
                "issuer_id": issuer_id,
                "profile": profile,  # before binding: the profile sets its default
                "binding": binding,
                "typ": typ,
                "algorithms": algorithms,
                "required_claims": required_claims,
            }
            for name, value in strings.items():
                if value is not None:
                    check(getattr(lib, f"mesh_verifier_opts_set_{name}")(opts, enc(value, name)),
                          name)
            if client_cert is not None or client_key is not None:
                check(lib.mesh_verifier_opts_set_client_cert(
                    opts, enc(client_cert, "client_cert"), enc(client_key, "client_key")),
                    "client_cert")
            if jwks_url is not None:
                check(lib.mesh_verifier_opts_set_jwks(opts, 1, enc(jwks_url, "jwks_url")),
                      "jwks_url")
            elif jwks_file is not None:
                check(lib.mesh_verifier_opts_set_jwks(opts, 2, enc(jwks_file, "jwks_file")),
                      "jwks_file")
            elif oidc:
                check(lib.mesh_verifier_opts_set_jwks(opts, 3, None), "oidc")
            if trust_bundle is not None:
                check(lib.mesh_verifier_opts_set_trust_bundle(
                    opts, enc(trust_bundle, "trust_bundle"), enc(crl_path, "crl_path")),
                    "trust_bundle")
            if revocation_feed is not None:
                check(lib.mesh_verifier_opts_set_revocation_feed(opts, revocation_feed),
                      "revocation_feed")
            numbers = {
                "skew": skew,
                "max_lifetime": max_lifetime,
                "revocation_poll_ms": revocation_poll_ms,
                "jwks_cooldown_ms": jwks_cooldown_ms,
                "cache_entries": cache_entries,
            }
            for name, value in numbers.items():
                if value is not None:
                    check(getattr(lib, f"mesh_verifier_opts_set_{name}")(opts, value), name)
            self.has_trust_bundle = trust_bundle is not None
            self._init(opts)
        finally:
            lib.mesh_verifier_opts_free(opts)

    def _init(self, opts: c_void_p) -> None:
        ptr = c_void_p()
        check(lib.mesh_verifier_new(opts, ctypes.byref(ptr)), "mesh_verifier_new")
        if _fast is None:
            self._h = Handle(ptr, lib.mesh_verifier_free, "mesh.Verifier")
            return
        try:
            core = _fast.Core(ptr.value, self.has_trust_bundle)
        except BaseException:
            lib.mesh_verifier_free(ptr)
            raise
        # The compiled path: verify is one C method (an instance attribute, found before the
        # class's ctypes verify); acquire/release/close keep the Handle protocol.
        self._h = core
        self.verify = core.verify  # type: ignore[method-assign]

    @classmethod
    def from_env(cls, service_name: str) -> "Verifier":
        """A verifier configured from the environment as mesh_verifier_from_env does
        (MESH_ISSUER_URL, MESH_AUDIENCE, TLS_CA_PATH or MESH_CERTS_DIR, MESH_TRUST_BUNDLE,
        MESH_JWKS_URL/MESH_JWKS_FILE, MESH_BINDING...). Blocks for the first key fetch."""

        opts = c_void_p()
        check(lib.mesh_verifier_opts_from_env(enc(service_name, "service_name"),
                                              ctypes.byref(opts)), "mesh_verifier_from_env")
        self = cls.__new__(cls)
        self.has_trust_bundle = bool(os.environ.get("MESH_TRUST_BUNDLE"))
        try:
            self._init(opts)
        finally:
            lib.mesh_verifier_opts_free(opts)
        return self

    def verify(
        self,
        authorization: Optional[str],
        peer_cert_pem: Union[None, str, bytes] = None,
        peer_cert_der: Optional[bytes] = None,
        required_scope: Optional[str] = None,
    ) -> Identity:
        """Verifies one request's Authorization header value ("Bearer <jwt>"; None when the
        request had none) for the client certificate that presented it: `peer_cert_der`
        (what the TLS layer saw) or `peer_cert_pem` (leaf first). With a trust bundle a PEM
        chain is checked by libmesh (mesh_verify_pem: for a certificate a proxy forwarded);
        without one the PEM's leaf is taken as the TLS layer's. `required_scope` must be one
        of the token's scopes. Returns the Identity; raises MeshError (``.reason`` e.g.
        "cnf_mismatch", ``.http_status()`` the answer to send)."""
        if peer_cert_pem is not None and peer_cert_der is not None:
            raise ValueError("verify: give peer_cert_pem or peer_cert_der, not both")
        auth = enc(authorization, "authorization")
        scope = enc(required_scope, "required_scope") if required_scope else None
        der = peer_cert_der
        if peer_cert_pem is not None and not self.has_trust_bundle:
            der, peer_cert_pem = _pem_leaf_der(peer_cert_pem), None
        out = c_void_p()
        h = self._h
        ptr = h.acquire()
        try:
            if peer_cert_pem is not None:
                pem = peer_cert_pem.encode() if isinstance(peer_cert_pem, str) else peer_cert_pem
                rc = _VERIFY_PEM(ptr, auth, pem, len(pem), scope, _byref(out))
            else:
                rc = _VERIFY(ptr, auth, der, len(der) if der else 0, scope, _byref(out))
            if rc:
                check(rc)  # on this thread, right after the call: the detail is thread-local
        finally:
            h.release()
        return Identity(out)

    async def averify(
        self,
        authorization: Optional[str],
        peer_cert_pem: Union[None, str, bytes] = None,
        peer_cert_der: Optional[bytes] = None,
        required_scope: Optional[str] = None,
    ) -> Identity:
        """``verify`` in the running loop's default executor: a JWKS fetch for an unknown
        kid then waits in a worker thread, never in the event loop."""
        import asyncio

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None, self.verify, authorization, peer_cert_pem, peer_cert_der, required_scope)

    def refresh_keys(self) -> None:
        """Fetches the keys now (blocks)."""
        self._call(lib.mesh_verifier_refresh_keys, "refresh_keys")

    def poll_revocations(self) -> None:
        """Polls the revocation feed now (blocks)."""
        self._call(lib.mesh_verifier_poll_revocations, "poll_revocations")

    def reload_trust(self) -> None:
        """Reads the trust bundle and CRL files again."""
        self._call(lib.mesh_verifier_reload_trust, "reload_trust")

    def _call(self, fn: object, what: str) -> None:
        h = self._h
        ptr = h.acquire()
        try:
            check(fn(ptr), what)  # type: ignore[operator]
        finally:
            h.release()

    def stat(self, which: int) -> int:
        """A counter: 0 verified, 1 rejected, 2 cache hits, 3 JWKS fetches, 4 revocation polls."""
        h = self._h
        ptr = h.acquire()
        try:
            return int(lib.mesh_verifier_stat(ptr, which))
        finally:
            h.release()

    def close(self) -> None:
        """Stops the background thread and frees; waits for verifications in flight."""
        self._h.close()

    def __enter__(self) -> "Verifier":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        h = getattr(self, "_h", None)
        if h is not None:
            h.close()


__all__ = ["Identity", "MeshError", "Verifier", "fast", "fast_path"]
