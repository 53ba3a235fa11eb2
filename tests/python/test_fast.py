# SPDX-License-Identifier: Apache-2.0
"""The two paths of mesh.Verifier.verify: the compiled extension (mesh._fast) and ctypes.
The suite runs twice (tests/python/meson.build): `python` expects the compiled path,
`python-ctypes` runs with MESH_PYTHON_FAST=0. Here: the path in use is the expected one, and
both paths give the same identities and the same errors for the same input."""

import ctypes
import os
import ssl
import threading
import weakref

import pytest

import mesh


def der(mesh_net, svc):
    with open(mesh_net.files(svc)[0]) as f:
        text = f.read()
    end = "-----END CERTIFICATE-----"
    return ssl.PEM_cert_to_DER_cert(text[: text.index(end) + len(end)] + "\n")


def pem(mesh_net, svc):
    with open(mesh_net.files(svc)[0]) as f:
        return f.read()


@pytest.fixture(scope="module")
def client(mesh_net):
    cert, key = mesh_net.files("svc-a")
    with mesh.Client(issuer_url=mesh_net.url, ca_path=mesh_net.ca, cert_path=cert,
                     key_path=key) as c:
        yield c


@pytest.fixture(scope="module")
def verifier(mesh_net):
    with mesh.Verifier(issuer=mesh_net.url, audience="svc-b", ca_path=mesh_net.ca) as v:
        yield v


def ctypes_verify(v, *args, **kw):
    """The ctypes path on the same verifier (the class's verify; with the compiled path the
    instance's verify is the C method)."""
    return mesh.Verifier.verify(v, *args, **kw)


def test_the_expected_path_is_used():
    want = os.environ.get("MESH_PYTHON_FAST", "1") != "0"
    assert mesh.fast is want, mesh.fast_path
    assert mesh.fast_path.startswith("compiled: " if want else "off: ")


def test_same_identity_on_both_paths(mesh_net, client, verifier):
    auth = "Bearer " + client.token("svc-b", "read write")
    cert = der(mesh_net, "svc-a")
    a = verifier.verify(auth, peer_cert_der=cert, required_scope="read")
    b = ctypes_verify(verifier, auth, peer_cert_der=cert, required_scope="read")
    assert type(b) is mesh.Identity and isinstance(a, mesh.Identity)
    if mesh.fast:
        assert type(a).__name__ == "Identity" and type(a) is not mesh.Identity
    for name in ("issuer", "subject", "audience", "scope", "scopes", "token_id", "client_id",
                 "x5t", "expiry", "issued_at", "bound"):
        assert getattr(a, name) == getattr(b, name), name
    assert a.subject == "spiffe://mesh.local/svc-a" and a.bound and a.scopes == ["read", "write"]
    assert a.has_scope("write") and not a.has_scope("wri") and a.has_audience("svc-b")
    assert a.claim("sub") == b.claim("sub") and a.claim("nope") is None
    assert a.claims_json() == b.claims_json()
    assert repr(a) == repr(b)
    assert weakref.ref(a)() is a
    # positional arguments, a PEM (str and bytes), no scope as "" or None
    assert verifier.verify(auth, None, cert, None).subject == a.subject
    assert verifier.verify(auth, pem(mesh_net, "svc-a")).bound
    assert verifier.verify(auth, peer_cert_pem=pem(mesh_net, "svc-a").encode()).bound
    assert verifier.verify(auth, peer_cert_der=cert, required_scope="").bound


def outcome(fn):
    try:
        fn()
    except mesh.MeshError as e:
        return ("MeshError", e.code, e.reason, bool(e.detail))
    except ctypes.ArgumentError as e:  # ctypes' own wrong-type error: a TypeError in C
        return ("TypeError", str(e))
    except Exception as e:  # noqa: BLE001 - compared below
        return (type(e).__name__, str(e))
    return ("ok",)


@pytest.mark.parametrize("args,kw", [
    (("Bearer not.a.token",), {"peer_cert_der": b"x"}),
    ((None,), {}),
    (("Bearer a\0b",), {}),
    (("Bearer x",), {"peer_cert_pem": "not a certificate"}),
    (("Bearer x",), {"peer_cert_pem": "a", "peer_cert_der": b"b"}),
    ((b"Bearer x",), {}),
    (("Bearer x",), {"required_scope": "a\0"}),
    (("Bearer x",), {"peer_cert_der": "text"}),
])
def test_same_errors_on_both_paths(verifier, args, kw):
    a = outcome(lambda: verifier.verify(*args, **kw))
    b = outcome(lambda: ctypes_verify(verifier, *args, **kw))
    assert a[0] == b[0] and a[0] != "ok", (a, b)
    if a[0] == "MeshError":
        assert a == b


def test_scope_and_binding_errors_carry_the_detail(mesh_net, client, verifier):
    auth = "Bearer " + client.token("svc-b", "read")
    with pytest.raises(mesh.MeshError) as e:
        verifier.verify(auth, peer_cert_der=der(mesh_net, "svc-a"), required_scope="write")
    assert e.value.code == 51 and e.value.detail and e.value.http_status("write")[0] == 403
    with pytest.raises(mesh.MeshError) as e:
        verifier.verify(auth, peer_cert_der=der(mesh_net, "svc-c"))
    assert e.value.reason == "cnf_mismatch" and e.value.detail


def test_bad_arguments_are_named(verifier):
    with pytest.raises(TypeError, match="unexpected keyword"):
        verifier.verify("Bearer x", peer_cert=b"")
    if mesh.fast:  # the C method's own argument checks
        with pytest.raises(TypeError, match="at most 4"):
            verifier.verify("a", None, None, None, None)
        with pytest.raises(TypeError, match="multiple values"):
            verifier.verify("a", authorization="b")
        with pytest.raises(TypeError, match="authorization"):
            verifier.verify(5)


def test_identity_outlives_the_verifier(mesh_net, client):
    auth = "Bearer " + client.token("svc-b")
    v = mesh.Verifier(issuer=mesh_net.url, audience="svc-b", ca_path=mesh_net.ca)
    who = v.verify(auth, peer_cert_der=der(mesh_net, "svc-a"))
    v.close()
    assert who.subject == "spiffe://mesh.local/svc-a"  # the identity holds its own reference
    with pytest.raises(RuntimeError, match="closed"):
        v.verify(auth, peer_cert_der=der(mesh_net, "svc-a"))
    with pytest.raises(RuntimeError, match="closed"):
        v.stat(0)


def test_threads_share_one_verifier_on_both_paths(mesh_net, client, verifier):
    auth = "Bearer " + client.token("svc-b")
    good, stolen = der(mesh_net, "svc-a"), der(mesh_net, "svc-c")
    errors = []

    def work(i):
        fn = verifier.verify if i % 2 else (lambda *a, **k: ctypes_verify(verifier, *a, **k))
        try:
            for _ in range(2000):
                assert fn(auth, peer_cert_der=good).subject == "spiffe://mesh.local/svc-a"
                try:
                    fn(auth, peer_cert_der=stolen)
                    errors.append("stolen token accepted")
                except mesh.MeshError as e:
                    assert e.code == 49 and e.detail, e
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
