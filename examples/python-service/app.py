# SPDX-License-Identifier: Apache-2.0
"""python-service: a FastAPI backend on the mesh (the Python twin of asset-service).

It serves mTLS itself (uvicorn, client certificates of the mesh CA required), verifies each
caller's token bound to that certificate, and calls a peer back through the mesh client.

Environment (the same contract as the C services):
  MESH_SERVICE        this service's name (default python-service): its certificate is
                      MESH_CERTS_DIR/<name>/ (or TLS_CERT_PATH/TLS_KEY_PATH/TLS_CA_PATH)
  MESH_ISSUER_URL     mesh-issuer's https URL (tokens are verified against it)
  MESH_AUDIENCE       the audience the routes require (default: the service name)
  LISTEN              host:port (default 127.0.0.1:8446)
  MESH_TRUSTED_PROXIES  space-separated addresses whose X-Mesh-* / X-Client-Cert headers are
                      believed (behind nginx + mesh-authz); unset: none
  MESH_TRUSTED_FORWARDERS  space-separated SPIFFE IDs (the gateway: spiffe://mesh.local/gateway)
                      whose X-Mesh-Subject / X-Mesh-Scope name the original caller; unset: none
  MESH_PEER_URL, MESH_PEER_AUDIENCE  optional: GET /peer calls this URL with a token for
                      that audience and answers what it said

Run: python3 examples/python-service/app.py   (PYTHONPATH must reach libmesh/python)

Exit status: 0 after a clean shutdown (SIGTERM, SIGINT) or for --help; 1 when the
configuration is wrong (the message names the variable or file); 2 for unknown arguments.
"""

from __future__ import annotations

import os
import sys
from typing import Optional

from fastapi import Depends, FastAPI

import mesh
import mesh.transports
from mesh.fastapi import MeshMiddleware, require_audience


def create_app(verifier: mesh.Verifier, audience: str, *, client: Optional[mesh.Client] = None,
               trusted_proxies: tuple[str, ...] = (), trusted_forwarders: tuple[str, ...] = (),
               peer_url: Optional[str] = None,
               peer_audience: Optional[str] = None) -> FastAPI:
    """The app: /healthz public, /whoami and /jobs/{id}/abort protected."""
    app = FastAPI(title="python-service", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(MeshMiddleware, verifier=verifier, public_paths=["/healthz"],
                       trusted_proxies=trusted_proxies, trusted_forwarders=trusted_forwarders)

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/whoami")
    def whoami(who=Depends(require_audience(audience))) -> dict:
        via = getattr(who, "via", None)
        return {"subject": who.subject, "client_id": who.client_id, "audience": who.audience,
                "scopes": who.scopes, "token_id": who.token_id, "bound": who.bound,
                "via": via.subject if via is not None else None}

    @app.post("/jobs/{job}/abort")
    def abort(job: str, who=Depends(require_audience(audience, "write"))) -> dict:
        return {"aborted": job, "by": who.subject}

    if client is not None and peer_url:
        http = mesh.transports.async_httpx_client(client, peer_audience, timeout=10.0)

        @app.get("/peer")
        async def peer(who=Depends(require_audience(audience))) -> dict:
            r = await http.get(peer_url)
            return {"status": r.status_code, "body": r.json() if r.content else None}

        app.state.peer_http = http

    return app


def main() -> int:
    import uvicorn

    class Server(uvicorn.Server):
        """Closes the peer client's connections before uvicorn's shutdown waits for the open
        ones to close: an idle keep-alive TLS connection that nobody reads would hold the
        shutdown for asyncio's ssl_shutdown_timeout (30 s)."""

        async def shutdown(self, sockets=None):  # type: ignore[no-untyped-def]
            http = getattr(getattr(app, "state", None), "peer_http", None)
            if http is not None:
                await http.aclose()
            await super().shutdown(sockets=sockets)

    import mesh.uvicorn

    if len(sys.argv) > 1:
        print(__doc__.strip())
        return 0 if sys.argv[1:] == ["--help"] else 2
    name = os.environ.get("MESH_SERVICE") or "python-service"
    audience = os.environ.get("MESH_AUDIENCE") or name
    host, _, port = (os.environ.get("LISTEN") or "127.0.0.1:8446").rpartition(":")
    try:
        verifier = mesh.Verifier.from_env(name)
        peer_url = os.environ.get("MESH_PEER_URL") or None
        client = mesh.Client.from_env(name) if peer_url else None
        app = create_app(verifier, audience, client=client, peer_url=peer_url,
                         peer_audience=os.environ.get("MESH_PEER_AUDIENCE") or None,
                         trusted_proxies=tuple((os.environ.get("MESH_TRUSTED_PROXIES")
                                                or "").split()),
                         trusted_forwarders=tuple((os.environ.get("MESH_TRUSTED_FORWARDERS")
                                                   or "").split()))
        config = mesh.uvicorn.config_from_env(app, name, host=host, port=int(port),
                                              log_level="warning")
    except (mesh.MeshError, ValueError, OSError) as e:
        print(f"python-service: {e}", file=sys.stderr)
        return 1
    Server(config).run()
    if client is not None:
        client.close()
    verifier.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
