# SPDX-License-Identifier: Apache-2.0
"""uvicorn with mTLS that tells the application which client certificate connected.

uvicorn 0.17 (Debian 12) verifies client certificates when started with
``ssl_cert_reqs=ssl.CERT_REQUIRED`` and ``ssl_ca_certs``, but puts nothing about the TLS
connection in the ASGI scope. ``MeshH11Protocol`` is uvicorn's own h11 protocol class with
one addition: when a connection is made (asyncio calls ``connection_made`` after the TLS
handshake), it reads the peer certificate from the transport's ``ssl_object`` and adds the
ASGI TLS extension to the scope of every request on that connection::

    scope["extensions"]["tls"] = {
        "client_cert_chain": [<leaf PEM>],   # the ASGI TLS extension's key; Python's ssl
        "client_cert_der": <leaf DER bytes>, # module exposes only the leaf before 3.13
        "client_cert_error": None,
        "tls_version": 0x0304, "cipher_suite": None, "server_cert": None,
    }

Pass it as ``uvicorn.Config(..., http=MeshH11Protocol)`` or use ``config()`` below.
"""

from __future__ import annotations

import ssl
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def tls_extension(ssl_object: Any) -> dict:
    """The ASGI TLS extension for a connection's SSLObject."""
    der = ssl_object.getpeercert(binary_form=True)
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
        "client_cert_der": der,
        "client_cert_name": None,
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None,
    }


class MeshH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, adding ``scope["extensions"]["tls"]`` on TLS connections."""

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return
        tls = tls_extension(ssl_object)
        inner = self.app

        async def app(scope: dict, receive: Any, send: Any) -> None:
            extensions = dict(scope.get("extensions") or {})
            extensions["tls"] = tls
            scope["extensions"] = extensions
            await inner(scope, receive, send)

        self.app = app


def config(app: Any, *, host: str, port: int, cert_path: str, key_path: str, ca_path: str,
           **kwargs: Any) -> "Any":
    """A uvicorn.Config serving `app` over mTLS: the service certificate, client
    certificates of the mesh CA required, and the TLS extension in the scope."""
    import uvicorn

    return uvicorn.Config(app, host=host, port=port, ssl_certfile=cert_path,
                          ssl_keyfile=key_path, ssl_ca_certs=ca_path,
                          ssl_cert_reqs=ssl.CERT_REQUIRED, http=MeshH11Protocol, **kwargs)


def config_from_env(app: Any, service_name: str, *, host: str, port: int,
                    **kwargs: Any) -> "Any":
    """``config`` with the identity files from the environment (mesh_env_identity)."""
    from .client import env_identity

    f = env_identity(service_name)
    if not f.cert_path or not f.key_path:
        raise ValueError(f"{service_name}: serving mTLS needs a certificate "
                         "(TLS_CERT_PATH/TLS_KEY_PATH or MESH_CERTS_DIR)")
    return config(app, host=host, port=port, cert_path=f.cert_path, key_path=f.key_path,
                  ca_path=f.ca_path, **kwargs)

