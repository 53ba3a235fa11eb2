# SPDX-License-Identifier: Apache-2.0
"""examples/python-service (FastAPI + mesh.fastapi) through a real uvicorn with mTLS,
called with httpx and real client certificates."""

import ssl
from urllib.parse import quote

import httpx
import pytest

import mesh


@pytest.fixture(scope="module")
def tokens(mesh_net):
    cert, key = mesh_net.files("svc-a")
    with mesh.Client(issuer_url=mesh_net.url, ca_path=mesh_net.ca, cert_path=cert,
                     key_path=key) as c:
        yield {"default": c.token("svc-b"), "read": c.token("svc-b", "read"),
               "write": c.token("svc-b", "write")}


def as_svc(mesh_net, svc):
    ctx = ssl.create_default_context(cafile=mesh_net.ca)
    ctx.load_cert_chain(*mesh_net.files(svc))
    return httpx.Client(verify=ctx, timeout=10)


def bearer(tok):
    return {"Authorization": "Bearer " + tok}


def test_public_path_needs_no_token(mesh_net, service):
    with as_svc(mesh_net, "svc-a") as h:
        assert h.get(service.url + "/healthz").json() == {"status": "ok"}


def test_mtls_required(mesh_net, service):
    ctx = ssl.create_default_context(cafile=mesh_net.ca)
    with httpx.Client(verify=ctx, timeout=10) as h:
        with pytest.raises(httpx.HTTPError):
            h.get(service.url + "/healthz")


def test_bound_token_with_its_certificate(mesh_net, service, tokens):
    with as_svc(mesh_net, "svc-a") as h:
        r = h.get(service.url + "/whoami", headers=bearer(tokens["default"]))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["subject"] == "spiffe://mesh.local/svc-a" and body["bound"] is True
        assert body["audience"] == "svc-b"


def test_no_token_is_401_with_www_authenticate(mesh_net, service):
    with as_svc(mesh_net, "svc-a") as h:
        r = h.get(service.url + "/whoami")
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == 'Bearer realm="mesh"'


def test_stolen_token_with_another_certificate_is_401(mesh_net, service, tokens):
    with as_svc(mesh_net, "svc-c") as h:
        r = h.get(service.url + "/whoami", headers=bearer(tokens["default"]))
        assert r.status_code == 401
        assert 'error="invalid_token"' in r.headers["www-authenticate"]
        assert r.json()["reason"] == "cnf_mismatch"


def test_scope_dependency_403(mesh_net, service, tokens):
    with as_svc(mesh_net, "svc-a") as h:
        r = h.post(service.url + "/jobs/7/abort", headers=bearer(tokens["read"]))
        assert r.status_code == 403
        assert 'error="insufficient_scope"' in r.headers["www-authenticate"]
        assert 'scope="write"' in r.headers["www-authenticate"]
        r = h.post(service.url + "/jobs/7/abort", headers=bearer(tokens["write"]))
        assert r.status_code == 200 and r.json() == {"aborted": "7",
                                                     "by": "spiffe://mesh.local/svc-a"}


def test_two_authorization_headers_400(mesh_net, service, tokens):
    with as_svc(mesh_net, "svc-a") as h:
        r = h.get(service.url + "/whoami", headers=[("Authorization", "Bearer " + tokens["read"]),
                                                    ("Authorization", "Bearer x")])
        assert r.status_code == 400


def test_proxy_headers_from_an_untrusted_peer_are_ignored(mesh_net, service, tokens):
    forged = {"X-Mesh-Subject": "spiffe://mesh.local/admin", "X-Mesh-Audience": "svc-b",
              "X-Mesh-Scopes": "write", "X-Mesh-Bound": "true"}
    with as_svc(mesh_net, "svc-a") as h:
        assert h.get(service.url + "/whoami", headers=forged).status_code == 401
        # nor a forwarded certificate: svc-c presents svc-a's certificate as a header
        cert = quote(open(mesh_net.files("svc-a")[0]).read())
        r = h.get(service.url + "/whoami", headers={**bearer(tokens["default"]),
                                                   "X-Client-Cert": cert})
        assert r.status_code == 200  # judged by its own TLS certificate, which is svc-a's
    with as_svc(mesh_net, "svc-c") as h:
        r = h.get(service.url + "/whoami", headers={**bearer(tokens["default"]),
                                                   "X-Client-Cert": cert})
        assert r.status_code == 401 and r.json()["reason"] == "cnf_mismatch"


def test_behind_trusted_proxy_identity_headers(mesh_net, proxied_service):
    hdrs = {"X-Mesh-Subject": "spiffe://mesh.local/svc-a", "X-Mesh-Audience": "svc-b",
            "X-Mesh-Scopes": "read", "X-Mesh-Token-Id": "abc", "X-Mesh-Bound": "true"}
    with as_svc(mesh_net, "svc-c") as proxy:  # the "proxy" connects from 127.0.0.1
        r = proxy.get(proxied_service.url + "/whoami", headers=hdrs)
        assert r.status_code == 200, r.text
        assert r.json()["subject"] == "spiffe://mesh.local/svc-a"
        r = proxy.post(proxied_service.url + "/jobs/1/abort", headers=hdrs)
        assert r.status_code == 403
        r = proxy.get(proxied_service.url + "/whoami",
                      headers={**hdrs, "X-Mesh-Audience": "other"})
        assert r.status_code == 401


def test_behind_trusted_proxy_forwarded_certificate(mesh_net, proxied_service, tokens):
    with as_svc(mesh_net, "svc-c") as proxy:
        cert = quote(open(mesh_net.files("svc-a")[0]).read())
        r = proxy.get(proxied_service.url + "/whoami",
                      headers={**bearer(tokens["default"]), "X-Client-Cert": cert})
        assert r.status_code == 200, r.text
        assert r.json()["subject"] == "spiffe://mesh.local/svc-a"
        other = quote(open(mesh_net.files("svc-c")[0]).read())
        r = proxy.get(proxied_service.url + "/whoami",
                      headers={**bearer(tokens["default"]), "X-Client-Cert": other})
        assert r.status_code == 401 and r.json()["reason"] == "cnf_mismatch"
        r = proxy.get(proxied_service.url + "/whoami",
                      headers={**bearer(tokens["default"]), "X-Client-Cert": "garbage"})
        assert r.status_code == 401


def test_service_calls_a_peer_with_its_own_token(mesh_net, service, tokens):
    with as_svc(mesh_net, "svc-a") as h:
        r = h.get(service.url + "/peer", headers=bearer(tokens["default"]))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == 200
        assert body["body"]["subject"] == "spiffe://mesh.local/svc-b"
        assert body["body"]["bound"] is True


def test_forwarded_identity_from_a_trusted_forwarder(mesh_net, forwarded_service, tokens):
    fwd = {"X-Mesh-Subject": "spiffe://mesh.local/web", "X-Mesh-Scope": "read",
           "X-Mesh-Client-Id": "web"}
    with as_svc(mesh_net, "svc-a") as gw:  # svc-a plays the gateway: its own bound token
        r = gw.get(forwarded_service.url + "/whoami", headers={**bearer(tokens["read"]), **fwd})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["subject"] == "spiffe://mesh.local/web"
        assert body["via"] == "spiffe://mesh.local/svc-a" and body["scopes"] == ["read"]
        # the original caller's scopes decide, not the forwarder's token
        r = gw.post(forwarded_service.url + "/jobs/1/abort",
                    headers={**bearer(tokens["write"]), **fwd})
        assert r.status_code == 403
        r = gw.post(forwarded_service.url + "/jobs/1/abort",
                    headers={**bearer(tokens["read"]), **fwd, "X-Mesh-Scope": "write"})
        assert r.status_code == 200 and r.json()["by"] == "spiffe://mesh.local/web"
        # without the forwarder's own valid token nothing is believed
        assert gw.get(forwarded_service.url + "/whoami", headers=fwd).status_code == 401
    with as_svc(mesh_net, "svc-c") as thief:  # the forwarder's token, another certificate
        r = thief.get(forwarded_service.url + "/whoami",
                      headers={**bearer(tokens["read"]), **fwd})
        assert r.status_code == 401


def test_forwarded_headers_from_a_caller_not_trusted(mesh_net, service, tokens):
    with as_svc(mesh_net, "svc-a") as h:
        r = h.get(service.url + "/whoami", headers={**bearer(tokens["read"]),
                                                   "X-Mesh-Subject": "spiffe://mesh.local/web"})
        assert r.status_code == 200 and r.json()["subject"] == "spiffe://mesh.local/svc-a"
        assert r.json()["via"] is None


def test_repeated_identity_header_from_the_proxy_is_400(mesh_net, proxied_service):
    hdrs = [("X-Mesh-Subject", "spiffe://mesh.local/svc-a"), ("X-Mesh-Audience", "svc-b"),
            ("X-Mesh-Subject", "spiffe://mesh.local/admin")]
    with as_svc(mesh_net, "svc-c") as proxy:
        r = proxy.get(proxied_service.url + "/whoami", headers=hdrs)
        assert r.status_code == 400
