# SPDX-License-Identifier: Apache-2.0
"""mesh.fastapi in-process (Starlette's TestClient, no TLS): require_audience without the
middleware (mesh.fastapi.install), the middleware's public paths and app-wide scope. The
TLS paths run through real uvicorn in test_fastapi.py."""

import pytest
from fastapi import Depends, FastAPI
from starlette.testclient import TestClient

import mesh
from mesh.fastapi import MeshMiddleware, install, require_audience

PROXY = {"X-Mesh-Subject": "spiffe://mesh.local/web", "X-Mesh-Audience": "svc-b",
         "X-Mesh-Scopes": "read", "X-Mesh-Bound": "true"}


@pytest.fixture(scope="module")
def verifier(mesh_net):
    with mesh.Verifier(issuer=mesh_net.url, audience="svc-b", ca_path=mesh_net.ca) as v:
        yield v


@pytest.fixture(scope="module")
def token(mesh_net):
    cert, key = mesh_net.files("svc-a")
    with mesh.Client(issuer_url=mesh_net.url, ca_path=mesh_net.ca, cert_path=cert,
                     key_path=key) as c:
        return c.token("svc-b")


def routes(app):
    @app.get("/read")
    def read(who=Depends(require_audience("svc-b", "read"))):
        return {"subject": who.subject}

    @app.get("/other")
    def other(who=Depends(require_audience("other-service"))):
        return {"subject": who.subject}

    @app.get("/docs/x")
    def docs():
        return {"public": True}


def test_dependency_without_middleware(verifier, token):
    app = FastAPI()
    install(app, verifier, trusted_proxies=["testclient"])  # TestClient's peer address
    routes(app)
    with TestClient(app) as t:
        assert t.get("/read", headers=PROXY).json() == {"subject": "spiffe://mesh.local/web"}
        r = t.get("/other", headers=PROXY)
        assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
        r = t.get("/read", headers={**PROXY, "X-Mesh-Scopes": "write"})
        assert r.status_code == 403 and 'scope="read"' in r.headers["www-authenticate"]
        # a bound token with no TLS certificate: the verifier refuses it
        r = t.get("/read", headers={"Authorization": "Bearer " + token})
        assert r.status_code == 401 and r.json()["detail"]["reason"] == "cnf_mismatch"
        assert t.get("/read").headers["www-authenticate"] == 'Bearer realm="mesh"'


def test_dependency_without_any_configuration_is_an_error():
    app = FastAPI()
    routes(app)
    with TestClient(app, raise_server_exceptions=True) as t:
        with pytest.raises(RuntimeError, match="MeshMiddleware"):
            t.get("/read", headers=PROXY)


def test_middleware_public_prefix_and_app_scope(verifier):
    app = FastAPI()
    routes(app)
    app.add_middleware(MeshMiddleware, verifier=verifier, public_paths=["/docs*"],
                       trusted_proxies=["testclient"], required_scope="write")
    with TestClient(app) as t:
        assert t.get("/docs/x").json() == {"public": True}
        r = t.get("/read", headers=PROXY)  # app-wide "write" missing
        assert r.status_code == 403 and 'scope="write"' in r.headers["www-authenticate"]
        r = t.get("/read", headers={**PROXY, "X-Mesh-Scopes": "read write"})
        assert r.status_code == 200
        r = t.get("/read")
        assert r.status_code == 401 and r.json() == {"error": "unauthorized"}


def test_untrusted_address_gets_no_proxy_identity(verifier):
    app = FastAPI()
    install(app, verifier, trusted_proxies=["10.9.8.7"])
    routes(app)
    with TestClient(app) as t:
        assert t.get("/read", headers=PROXY).status_code == 401
