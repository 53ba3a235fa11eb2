# SPDX-License-Identifier: Apache-2.0
"""FastAPI / Starlette integration: a middleware with public paths and a
``require_audience`` dependency, answering 401/403 with RFC 6750 ``WWW-Authenticate``.

Where the caller's certificate comes from:

* **The service terminates mTLS itself** (uvicorn with ``mesh.uvicorn.MeshH11Protocol``):
  from the ASGI TLS extension, ``scope["extensions"]["tls"]``.
* **Behind nginx + mesh-authz** (the proxy verified the token): the ``X-Mesh-Subject``,
  ``X-Mesh-Client-Id``, ``X-Mesh-Audience``, ``X-Mesh-Scopes``, ``X-Mesh-Token-Id`` and
  ``X-Mesh-Bound`` headers the proxy sets become a ``ProxyIdentity``.
* **Behind a proxy that forwards the certificate** (nginx ``X-Client-Cert:
  $ssl_client_escaped_cert``): the token is verified here against that certificate.
* **Called by the mesh gateway** (examples/gateway): the gateway calls with its own bound
  token and names the original caller in ``X-Mesh-Subject`` / ``X-Mesh-Scope`` /
  ``X-Mesh-Client-Id``; a ``ForwardedIdentity`` when the verified caller's SPIFFE ID is one
  of ``trusted_forwarders`` (as asset-service's ``--trust-forwarder``).

Proxy headers are believed only when the connection comes from one of ``trusted_proxies``
(the proxies' addresses; empty, the default: never), forwarded identities only from a
caller whose own token verified and whose subject is one of ``trusted_forwarders``. From
anyone else these headers are ignored, and the request is judged by its own token and TLS
certificate.
"""

from __future__ import annotations

import json
import ssl
from typing import Any, Awaitable, Callable, Iterable, Optional, Sequence, Union
from urllib.parse import unquote_to_bytes

from starlette.exceptions import HTTPException
from starlette.requests import Request

from .client import Scopes, scope_string
from .errors import ERR_AUDIENCE, ERR_SCOPE, MeshError, http_status
from .verifier import Identity, Verifier

ERR_TWO_CREDENTIALS = 67
ERR_NO_TOKEN = 66

PROXY_HEADERS = (b"x-mesh-subject", b"x-mesh-client-id", b"x-mesh-audience",
                 b"x-mesh-scopes", b"x-mesh-token-id", b"x-mesh-bound")
CERT_HEADER = b"x-client-cert"
# Headers a request may carry once: the credential, and every header this module believes.
_SINGLE = frozenset((b"authorization", CERT_HEADER, b"x-mesh-scope") + PROXY_HEADERS)


class ProxyIdentity:
    """A caller the trusted proxy (mesh-authz) verified, read from its X-Mesh-* headers.
    The same attributes as Identity; what the headers do not carry is "" or 0."""

    def __init__(self, headers: dict[bytes, bytes]) -> None:
        g = lambda k: headers.get(k, b"").decode("latin-1")  # noqa: E731
        self.subject = g(b"x-mesh-subject")
        self.client_id = g(b"x-mesh-client-id")
        self.audience = g(b"x-mesh-audience")
        self.scope = g(b"x-mesh-scopes")
        self.token_id = g(b"x-mesh-token-id")
        self.bound = g(b"x-mesh-bound") == "true"
        self.issuer = ""
        self.expiry = 0
        self.x5t = ""

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()

    def has_scope(self, scope: str) -> bool:
        return scope in self.scope.split()

    def has_audience(self, audience: str) -> bool:
        return audience in self.audience.split()

    def claim(self, name: str) -> Optional[str]:
        return None

    def __repr__(self) -> str:
        return f"ProxyIdentity(subject={self.subject!r}, audience={self.audience!r})"


class ForwardedIdentity:
    """The original caller a trusted forwarder (the gateway) named, beside ``via``, the
    forwarder's own verified Identity. Subject, scopes and client id are the headers'; the
    audience, expiry and binding are those of the forwarder's token (which was for us)."""

    def __init__(self, via: Identity, headers: dict[bytes, bytes]) -> None:
        g = lambda k: headers.get(k, b"").decode("latin-1")  # noqa: E731
        self.via = via
        self.subject = g(b"x-mesh-subject")
        self.scope = g(b"x-mesh-scope") or g(b"x-mesh-scopes")
        self.client_id = g(b"x-mesh-client-id")
        self.audience = via.audience
        self.issuer = via.issuer
        self.token_id = via.token_id
        self.expiry = via.expiry
        self.bound = via.bound
        self.x5t = via.x5t

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()

    def has_scope(self, scope: str) -> bool:
        return scope in self.scope.split()

    def has_audience(self, audience: str) -> bool:
        return self.via.has_audience(audience)

    def claim(self, name: str) -> Optional[str]:
        return None

    def __repr__(self) -> str:
        return f"ForwardedIdentity(subject={self.subject!r}, via={self.via.subject!r})"


AnyIdentity = Union[Identity, ProxyIdentity, ForwardedIdentity]


class MeshConfig:
    """How requests are authenticated: the verifier, which peers are trusted proxies (by
    address) and which callers are trusted forwarders (by SPIFFE ID)."""

    def __init__(self, verifier: Optional[Verifier], trusted_proxies: Iterable[str] = (),
                 trusted_forwarders: Iterable[str] = ()) -> None:
        self.verifier = verifier
        self.trusted_proxies = frozenset(trusted_proxies)
        self.trusted_forwarders = frozenset(trusted_forwarders)

    def from_trusted_proxy(self, scope: dict) -> bool:
        client = scope.get("client")
        return bool(client) and client[0] in self.trusted_proxies

    async def authenticate(self, scope: dict, required_scope: Optional[str] = None) -> AnyIdentity:
        """The caller of one request, or MeshError saying why not."""
        headers: dict[bytes, bytes] = {}
        for k, v in scope.get("headers", ()):
            if k in headers and k in _SINGLE:
                # Two credentials, or an identity header a proxy appended instead of set.
                raise MeshError(ERR_TWO_CREDENTIALS, f"{k.decode()} repeated", "request")
            headers.setdefault(k, v)
        proxied = self.from_trusted_proxy(scope)
        if proxied and b"x-mesh-subject" in headers:
            ident = ProxyIdentity(headers)
            if required_scope and not ident.has_scope(required_scope):
                raise MeshError(ERR_SCOPE, f"scope {required_scope} missing", "proxy identity")
            return ident
        if self.verifier is None:
            raise MeshError(ERR_NO_TOKEN, "no verifier configured and no proxy identity",
                            "request")
        auth = headers.get(b"authorization")
        authorization = auth.decode("latin-1") if auth is not None else None
        forwarded = bool(self.trusted_forwarders) and b"x-mesh-subject" in headers
        # A forwarder's own token need not carry the original caller's scope.
        need = None if forwarded else required_scope
        if proxied and headers.get(CERT_HEADER):
            pem = unquote_to_bytes(headers[CERT_HEADER])
            ident = await self.verifier.averify(authorization, peer_cert_pem=pem,
                                                required_scope=need)
        else:
            ident = await self.verifier.averify(authorization, peer_cert_der=tls_peer_cert(scope),
                                                required_scope=need)
        if not forwarded:
            return ident
        if ident.subject not in self.trusted_forwarders:
            if required_scope and not ident.has_scope(required_scope):
                raise MeshError(ERR_SCOPE, f"scope {required_scope} missing", "request")
            return ident  # not a forwarder: its X-Mesh-* headers mean nothing
        fwd = ForwardedIdentity(ident, headers)
        if required_scope and not fwd.has_scope(required_scope):
            raise MeshError(ERR_SCOPE, f"scope {required_scope} missing", "forwarded identity")
        return fwd


def tls_peer_cert(scope: dict) -> Optional[bytes]:
    """The client certificate (DER) of the request's TLS connection, from the ASGI TLS
    extension (``scope["extensions"]["tls"]``; mesh.uvicorn.MeshH11Protocol fills it)."""
    tls = (scope.get("extensions") or {}).get("tls")
    if not tls:
        return None
    der = tls.get("client_cert_der")
    if der:
        return bytes(der)
    chain = list(tls.get("client_cert_chain") or ())
    return ssl.PEM_cert_to_DER_cert(chain[0]) if chain else None


def error_response(err: MeshError, required_scope: Optional[str] = None) -> tuple[int, list, bytes]:
    """Status, headers and JSON body for a refused request: the status and
    WWW-Authenticate from mesh_verify_http_status, a coarse body (never the detail)."""
    status, www = err.http_status(required_scope)
    body = {401: "invalid_token", 403: "insufficient_scope", 400: "invalid_request",
            503: "temporarily_unavailable"}.get(status, "server_error")
    if status == 401 and err.code == ERR_NO_TOKEN:
        payload = {"error": "unauthorized"}
    else:
        payload = {"error": body, "reason": err.reason}
    headers = [(b"content-type", b"application/json")]
    if www:
        headers.append((b"www-authenticate", www.encode()))
    return status, headers, json.dumps(payload).encode()


def _config_of(scope: dict) -> Optional[MeshConfig]:
    cfg = scope.get("mesh.config")
    if cfg is None:
        app = scope.get("app")
        cfg = getattr(getattr(app, "state", None), "mesh_config", None)
    return cfg


class MeshMiddleware:
    """ASGI middleware: every HTTP request outside `public_paths` must carry a valid token
    (bound to the presenting certificate); the caller's identity is then in
    ``request.state.mesh_identity``. `public_paths` are exact paths, or prefixes ending in
    "/" or "*" ("/docs*"). `required_scope` (optional) is required on every protected path.
    The verifier's audiences must include every audience the routes require."""

    def __init__(self, app: Any, verifier: Optional[Verifier] = None, *,
                 public_paths: Sequence[str] = (), trusted_proxies: Iterable[str] = (),
                 trusted_forwarders: Iterable[str] = (),
                 required_scope: Optional[str] = None) -> None:
        self.app = app
        self.config = MeshConfig(verifier, trusted_proxies, trusted_forwarders)
        self.exact = {p for p in public_paths if not p.endswith(("*", "/"))}
        self.prefixes = tuple(p.rstrip("*") for p in public_paths if p.endswith(("*", "/")))
        self.required_scope = required_scope

    def is_public(self, path: str) -> bool:
        return path in self.exact or (bool(self.prefixes) and path.startswith(self.prefixes))

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]],
                       send: Callable[[dict], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope["mesh.config"] = self.config
        if not self.is_public(scope.get("path", "")):
            try:
                ident = await self.config.authenticate(scope, self.required_scope)
            except MeshError as err:
                status, headers, body = error_response(err, self.required_scope)
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            scope.setdefault("state", {})["mesh_identity"] = ident
        await self.app(scope, receive, send)


def install(app: Any, verifier: Optional[Verifier], *, trusted_proxies: Iterable[str] = (),
            trusted_forwarders: Iterable[str] = ()) -> None:
    """For an app without the middleware: the verifier (and trusted proxies and forwarders)
    the ``require_audience`` dependencies use."""
    app.state.mesh_config = MeshConfig(verifier, trusted_proxies, trusted_forwarders)


def require_audience(audience: str, scopes: Scopes = None) -> Callable[..., Awaitable[AnyIdentity]]:
    """A FastAPI dependency: the caller's Identity, when its token is for `audience` and
    carries every scope of `scopes`; else HTTPException 401/403 with WWW-Authenticate::

        @app.post("/jobs/{id}/abort")
        def abort(id: str, who: Identity = Depends(require_audience("jobs", "jobs.abort"))):

    Uses the identity MeshMiddleware established, or verifies the request itself with the
    middleware's or ``install``'s verifier."""
    wanted = (scope_string(scopes) or "").split()

    def refuse(code: int, scope_name: Optional[str] = None, err: Optional[MeshError] = None):
        e = err or MeshError(code)
        status, headers, body = error_response(e, scope_name)
        hdrs = {k.decode(): v.decode() for k, v in headers if k == b"www-authenticate"}
        return HTTPException(status_code=status, detail=json.loads(body), headers=hdrs or None)

    async def dependency(request: Request) -> AnyIdentity:
        ident = getattr(request.state, "mesh_identity", None)
        if ident is None:
            cfg = _config_of(request.scope)
            if cfg is None:
                raise RuntimeError("mesh: require_audience needs MeshMiddleware or "
                                   "mesh.fastapi.install(app, verifier)")
            first = wanted[0] if wanted else None
            try:
                ident = await cfg.authenticate(request.scope, first)
            except MeshError as err:
                raise refuse(err.code, first, err) from None
            request.state.mesh_identity = ident
        if not ident.has_audience(audience):
            raise refuse(ERR_AUDIENCE)
        for s in wanted:
            if not ident.has_scope(s):
                raise refuse(ERR_SCOPE, s)
        return ident

    return dependency


__all__ = ["MeshMiddleware", "MeshConfig", "ProxyIdentity", "ForwardedIdentity", "require_audience", "install",
           "tls_peer_cert", "error_response", "http_status"]
