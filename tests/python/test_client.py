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


def test_service_token_mode(mesh_net, env_for, monkeypatch):
    import json
    import ssl
    import subprocess

    from conftest import BUILD

    out = subprocess.run([str(BUILD / "issuer" / "mesh-issuer"), "token", "create", "ci-py",
                          "--audience", "svc-b", "--json", "--config", str(mesh_net.config)],
                         cwd=mesh_net.root, capture_output=True, text=True, check=True)
    cred = json.loads(out.stdout)
    env_for("ci-py")  # no certificate for ci-py: only the CA is read
    monkeypatch.setenv("MESH_CLIENT_ID", cred["client_id"])
    monkeypatch.setenv("MESH_CLIENT_SECRET", cred["client_secret"])
    with mesh.Client.from_env("ci-py") as c:
        assert c.files.cert_path is None and c.files.ca_path == mesh_net.ca
        tok = c.token("svc-b")
    with open(mesh_net.files("svc-a")[0]) as f:
        text = f.read()
    end = "-----END CERTIFICATE-----"
    der = ssl.PEM_cert_to_DER_cert(text[: text.index(end) + len(end)] + "\n")
    # an unbound token: refused under the default policy, accepted where its sub is allowed
    with mesh.Verifier(issuer=mesh_net.url, audience="svc-b", ca_path=mesh_net.ca) as v:
        with pytest.raises(mesh.MeshError) as e:
            v.verify("Bearer " + tok, peer_cert_der=der)
        assert e.value.code == 50  # MESH_ERR_CNF_MISSING
    with mesh.Verifier(issuer=mesh_net.url, audience="svc-b", ca_path=mesh_net.ca,
                       binding="unbound-for:svc-token:ci-py") as v:
        who = v.verify("Bearer " + tok)
        assert who.subject == "svc-token:ci-py" and not who.bound
        assert who.client_id == "ci-py"  # the token names the service token, not its id
