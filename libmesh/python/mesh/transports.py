# SPDX-License-Identifier: Apache-2.0
"""httpx and requests transports that call mesh peers: mTLS with the service certificate
(trusting only the mesh CA) and ``Authorization: Bearer`` with the token for the peer's
audience, from the client's cache."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Union

from ._tls import Renewing, file_stamp, optional_host
from .client import Client, Scopes

# A peer's audience: one name for every request, a map from "host:port" (or "host") to the
# name, or a function of (host, port, path) answering the name (None: no token, mTLS only).
Audience = Union[None, str, Mapping[str, str], Callable[[str, Optional[int], str], Optional[str]]]


def _audience_for(audience: Audience, host: str, port: Optional[int], path: str) -> Optional[str]:
    if audience is None or isinstance(audience, str):
        return audience
    if callable(audience):
        return audience(host, port, path)
    for key in optional_host(host, port):
        if key in audience:
            return audience[key]
    raise LookupError(f"mesh: no audience configured for {host}:{port} (add it to the map)")


# ---- httpx -------------------------------------------------------------------------------

try:
    import httpx
except ImportError:  # pragma: no cover - httpx is optional
    httpx = None  # type: ignore[assignment]

if httpx is not None:

    class MeshTransport(httpx.BaseTransport):
        """An httpx transport for mesh peers: the service certificate (renewed files are
        picked up), the mesh CA only, and the token for `audience`. Thread-safe."""

        def __init__(self, client: Client, audience: Audience = None, scopes: Scopes = None,
                     **transport_kwargs: Any) -> None:
            self.client, self.audience, self.scopes = client, audience, scopes
            self._t = Renewing(client.files, lambda ctx: httpx.HTTPTransport(
                verify=ctx, **transport_kwargs))

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            aud = _audience_for(self.audience, request.url.host, request.url.port,
                                request.url.path)
            if aud is not None:
                request.headers["Authorization"] = "Bearer " + self.client.token(aud, self.scopes)
            return self._t.get().handle_request(request)

        def close(self) -> None:
            for t in self._t.all():
                t.close()

    class AsyncMeshTransport(httpx.AsyncBaseTransport):
        """MeshTransport for httpx.AsyncClient. The token comes from a worker thread
        (Client.atoken), so a cache miss never blocks the event loop."""

        def __init__(self, client: Client, audience: Audience = None, scopes: Scopes = None,
                     **transport_kwargs: Any) -> None:
            self.client, self.audience, self.scopes = client, audience, scopes
            self._t = Renewing(client.files, lambda ctx: httpx.AsyncHTTPTransport(
                verify=ctx, **transport_kwargs))

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            aud = _audience_for(self.audience, request.url.host, request.url.port,
                                request.url.path)
            if aud is not None:
                token = await self.client.atoken(aud, self.scopes)
                request.headers["Authorization"] = "Bearer " + token
            return await self._t.get().handle_async_request(request)

        async def aclose(self) -> None:
            for t in self._t.all():
                await t.aclose()

    class MeshAuth(httpx.Auth):
        """httpx auth adding only the bearer token for `audience` (for a client whose TLS
        you configure yourself; MeshTransport does both). Sync and async."""

        def __init__(self, client: Client, audience: str, scopes: Scopes = None) -> None:
            self.client, self.audience, self.scopes = client, audience, scopes

        def sync_auth_flow(self, request: httpx.Request):  # type: ignore[override]
            request.headers["Authorization"] = "Bearer " + self.client.token(
                self.audience, self.scopes)
            yield request

        async def async_auth_flow(self, request: httpx.Request):  # type: ignore[override]
            token = await self.client.atoken(self.audience, self.scopes)
            request.headers["Authorization"] = "Bearer " + token
            yield request

    def httpx_client(client: Client, audience: Audience = None, scopes: Scopes = None,
                     **kwargs: Any) -> "httpx.Client":
        """An httpx.Client calling mesh peers through MeshTransport."""
        return httpx.Client(transport=MeshTransport(client, audience, scopes), **kwargs)

    def async_httpx_client(client: Client, audience: Audience = None, scopes: Scopes = None,
                           **kwargs: Any) -> "httpx.AsyncClient":
        """An httpx.AsyncClient calling mesh peers through AsyncMeshTransport."""
        return httpx.AsyncClient(transport=AsyncMeshTransport(client, audience, scopes),
                                 **kwargs)


# ---- requests ----------------------------------------------------------------------------

try:
    import requests
    import requests.adapters
except ImportError:  # pragma: no cover - requests is optional
    requests = None  # type: ignore[assignment]

if requests is not None:
    from urllib.parse import urlsplit

    class MeshAdapter(requests.adapters.HTTPAdapter):
        """A requests adapter for mesh peers (mount it on "https://"): every request
        presents the service certificate, trusts only the mesh CA (a caller's verify= or
        cert= is overridden) and carries the token for the peer's audience. New connections
        read the certificate files; when the files change (a renewal) the pooled
        connections are dropped, so the next request presents the new certificate."""

        def __init__(self, client: Client, audience: Audience = None, scopes: Scopes = None,
                     **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.client, self.audience, self.scopes = client, audience, scopes
            self._stamp = file_stamp(client.files)

        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            f = self.client.files
            stamp = file_stamp(f)
            if stamp != self._stamp:
                # Renewed files: pooled connections still present the old certificate.
                self._stamp = stamp
                self.poolmanager.clear()
            kwargs["verify"] = f.ca_path
            kwargs["cert"] = (f.cert_path, f.key_path) if f.cert_path else None
            u = urlsplit(request.url or "")
            aud = _audience_for(self.audience, u.hostname or "", u.port, u.path)
            if aud is not None:
                request.headers["Authorization"] = "Bearer " + self.client.token(aud, self.scopes)
            return super().send(request, **kwargs)

    def requests_session(client: Client, audience: Audience = None,
                         scopes: Scopes = None) -> "requests.Session":
        """A requests.Session whose https:// requests go through MeshAdapter (plain http://
        is refused)."""
        s = requests.Session()
        s.mount("https://", MeshAdapter(client, audience, scopes))
        s.mount("http://", _Refuse())
        return s

    class _Refuse(requests.adapters.BaseAdapter):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            raise requests.exceptions.InvalidURL(
                f"mesh: {request.url}: mesh peers are https:// only")

        def close(self) -> None:
            pass
