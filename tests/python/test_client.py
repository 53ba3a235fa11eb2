# SPDX-License-Identifier: Apache-2.0
"""mesh.Client against the real mesh-issuer."""

import asyncio

import pytest

import mesh


def test_from_env_token_and_cache(mesh_net, env_for):
    env_for("svc-a")
    with mesh.Client.from_env("svc-a") as c:
        tok, exp = c.token_and_expiry("svc-b")
        assert tok.count(".") == 2 and exp > 0
        assert c.stat(0) == 1  # one issuer request
        assert c.token("svc-b") == tok  # from the cache
        assert c.stat(0) == 1 and c.stat(1) >= 1
        assert c.files.cert_path.endswith("svc-a/cert.pem")
        scoped = c.token("svc-b", ["read"])
        assert scoped != tok and c.stat(0) == 2


def test_audience_not_allowed_is_issuer_error(mesh_net, env_for):
    env_for("svc-a")
    with mesh.Client.from_env("svc-a") as c:
        with pytest.raises(mesh.MeshError) as e:
            c.token("svc-c")
        assert e.value.code == 62 and e.value.reason == mesh.errors.lib.mesh_err_name(62).decode()
        assert e.value.detail  # the issuer's error names what went wrong


def test_missing_issuer_url_names_the_variable(mesh_net, env_for, monkeypatch):
    env_for("svc-a")
    monkeypatch.delenv("MESH_ISSUER_URL")
    with pytest.raises(mesh.MeshError) as e:
        mesh.Client.from_env("svc-a")
    assert "MESH_ISSUER_URL" in e.value.detail and e.value.reason


def test_wrong_key_is_refused_naming_the_file(mesh_net):
    cert, _ = mesh_net.files("svc-a")
    _, other_key = mesh_net.files("svc-b")
    with pytest.raises(mesh.MeshError) as e:
        mesh.Client(issuer_url=mesh_net.url, ca_path=mesh_net.ca, cert_path=cert,
                    key_path=other_key)
    assert e.value.code == 65  # MESH_ERR_CERT_KEY_MISMATCH


def test_closed_client_refuses_calls(mesh_net, env_for):
    env_for("svc-a")
    c = mesh.Client.from_env("svc-a")
    c.close()
    c.close()
    with pytest.raises(RuntimeError):
        c.token("svc-b")


def test_atoken_from_asyncio(mesh_net, env_for):
    env_for("svc-a")
    with mesh.Client.from_env("svc-a") as c:
        async def main():
            return await asyncio.gather(*(c.atoken("svc-b", "write") for _ in range(8)))
        toks = asyncio.run(main())
        assert len(set(toks)) == 1
