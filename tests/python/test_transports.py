# SPDX-License-Identifier: Apache-2.0
"""The httpx (sync and async) and requests transports against a real HTTPS peer: the
python-service in uvicorn with mTLS, which answers who called it."""

import asyncio
import os
import shutil
import ssl

import httpx
import pytest
import requests

import mesh
import mesh.transports as mt


@pytest.fixture
def client(mesh_net):
    cert, key = mesh_net.files("svc-a")
    with mesh.Client(issuer_url=mesh_net.url, ca_path=mesh_net.ca, cert_path=cert,
                     key_path=key) as c:
        yield c


def caller(r):
    assert r.status_code == 200, r.text
    return r.json()["subject"], r.json()["bound"]


def test_httpx_sync(service, client):
    with mt.httpx_client(client, "svc-b") as h:
        assert caller(h.get(service.url + "/whoami")) == ("spiffe://mesh.local/svc-a", True)
        r = h.post(service.url + "/jobs/3/abort")
        assert r.status_code == 200  # the issuer's default scopes include write


def test_httpx_sync_scopes(service, client):
    with mt.httpx_client(client, "svc-b", scopes="read") as h:
        assert h.post(service.url + "/jobs/3/abort").status_code == 403


def test_httpx_async(service, client):
    async def main():
        async with mt.async_httpx_client(client, {f"127.0.0.1:{service.port}": "svc-b"}) as h:
            rs = await asyncio.gather(*(h.get(service.url + "/whoami") for _ in range(10)))
            return [caller(r) for r in rs]
    assert set(asyncio.run(main())) == {("spiffe://mesh.local/svc-a", True)}


def test_httpx_auth_only(mesh_net, service, client):
    ctx = ssl.create_default_context(cafile=mesh_net.ca)
    ctx.load_cert_chain(*mesh_net.files("svc-a"))
    with httpx.Client(verify=ctx, auth=mt.MeshAuth(client, "svc-b")) as h:
        assert caller(h.get(service.url + "/whoami"))[0] == "spiffe://mesh.local/svc-a"

    async def main():
        async with httpx.AsyncClient(verify=ctx, auth=mt.MeshAuth(client, "svc-b")) as h:
            return caller(await h.get(service.url + "/whoami"))
    assert asyncio.run(main())[1] is True


def test_audience_map_without_the_peer(service, client):
    with mt.httpx_client(client, {"elsewhere:1": "svc-b"}) as h:
        with pytest.raises(LookupError):
            h.get(service.url + "/whoami")


def test_transport_trusts_only_the_mesh_ca(mesh_net, service, client, tmp_path):
    # A peer whose certificate another CA signed is refused: make one with openssl.
    import subprocess
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1",
                    "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
    client.files = mesh.IdentityFiles(client.files.cert_path, client.files.key_path, str(crt))
    with mt.httpx_client(client, "svc-b") as h:  # trusts only that other CA now
        with pytest.raises(httpx.ConnectError):
            h.get(service.url + "/whoami")


def test_requests_session(service, client):
    s = mt.requests_session(client, "svc-b")
    r = s.get(service.url + "/whoami", verify=False)  # verify= is overridden: mesh CA only
    assert caller(r) == ("spiffe://mesh.local/svc-a", True)
    with pytest.raises(requests.exceptions.InvalidURL):
        s.get("http://127.0.0.1:1/")
    s.close()


def test_requests_adapter_without_token(service, client):
    s = requests.Session()
    s.mount("https://", mt.MeshAdapter(client, None))
    r = s.get(service.url + "/whoami")
    assert r.status_code == 401  # mTLS only, no Authorization
    assert s.get(service.url + "/healthz").status_code == 200


def put_identity(mesh_net, svc, d):
    """Writes svc's certificate and key into d as a renewal does: new files renamed over."""
    for src, name in zip(mesh_net.files(svc), ("cert.pem", "key.pem")):
        shutil.copy(src, d / (name + ".new"))
        os.rename(d / (name + ".new"), d / name)


@pytest.mark.parametrize("kind", ["httpx", "async", "requests"])
def test_renewed_certificate_is_picked_up_without_restart(mesh_net, service, tmp_path, kind):
    d = tmp_path / "id"
    d.mkdir()
    put_identity(mesh_net, "svc-b", d)  # svc-b may call svc-b too (the test issuer's policy)
    with mesh.Client(issuer_url=mesh_net.url, ca_path=mesh_net.ca,
                     cert_path=str(d / "cert.pem"), key_path=str(d / "key.pem")) as c:
        if kind == "httpx":
            h = mt.httpx_client(c, "svc-b")
            get = lambda: h.get(service.url + "/whoami")  # noqa: E731
        elif kind == "requests":
            h = mt.requests_session(c, "svc-b")
            get = lambda: h.get(service.url + "/whoami")  # noqa: E731
        else:
            async def aget():
                async with mt.async_httpx_client(c, "svc-b") as ah:
                    return await ah.get(service.url + "/whoami")
            get = lambda: asyncio.run(aget())  # noqa: E731
        assert caller(get()) == ("spiffe://mesh.local/svc-b", True)
        assert c.check_renewal() is False
        put_identity(mesh_net, "svc-a", d)  # the "renewed" identity: another key, another cert
        # the next request presents the new certificate with a token bound to it
        assert caller(get()) == ("spiffe://mesh.local/svc-a", True)
        assert c.check_renewal() is False  # already reloaded by that request
        if kind != "async":
            h.close()
