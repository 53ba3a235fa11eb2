# SPDX-License-Identifier: Apache-2.0
"""Verifications per second through the mesh package (its compiled path mesh._fast and its
ctypes fallback), beside PyJWT + cryptography doing
only the signature and the claims, on one token of a real mesh-issuer (one thread).
Run by python-verify.sh (./dev bench). Prints one line per measurement; never fails on a
number."""

from __future__ import annotations

import json
import os
import ssl
import sys
import tempfile
import timeit
from pathlib import Path

SRC = Path(os.environ.get("MESH_SOURCE_ROOT", Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(SRC / "libmesh" / "python"))
sys.path.insert(0, str(SRC / "tests" / "python"))

import conftest  # noqa: E402  (the Mesh helper: mesh-ca + mesh-issuer on a free port)
import mesh  # noqa: E402

ROUNDS = int(os.environ.get("RUNS", "7"))


def rate(stmt: str, env: dict, secs: float = 0.25) -> float:
    """Best of ROUNDS rounds of `stmt` (run in `env`) lasting about `secs` each. timeit
    compiles the statement into its loop, so what is measured is the call a service makes,
    without a wrapper function around it."""
    timer = timeit.Timer(stmt, globals=env)
    best = 0.0
    for _ in range(ROUNDS):
        n = 64
        while True:
            el = timer.timeit(n)
            if el >= secs:
                break
            n *= 2
        best = max(best, n / el)
    return best


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="mesh-pybench-"))
    m = conftest.Mesh(root)
    try:
        m.setup()
        m.start()
        cert, key = m.files("svc-a")
        with open(cert) as f:
            text = f.read()
        end = "-----END CERTIFICATE-----"
        der = ssl.PEM_cert_to_DER_cert(text[: text.index(end) + len(end)] + "\n")
        with mesh.Client(issuer_url=m.url, ca_path=m.ca, cert_path=cert, key_path=key) as c:
            tok = c.token("svc-b", "read write")
        auth = "Bearer " + tok
        header = json.loads(__import__("base64").urlsafe_b64decode(tok.split(".")[0] + "=="))
        def pair():
            c = mesh.Verifier(issuer=m.url, audience="svc-b", ca_path=m.ca)
            u = mesh.Verifier(issuer=m.url, audience="svc-b", ca_path=m.ca, cache_entries=0)
            return c, u

        # The package's path (the compiled mesh._fast when built), then the ctypes fallback
        # on verifiers made with the extension turned off, in the same process.
        cached, uncached = pair()
        fast = mesh.verifier._fast
        mesh.verifier._fast = None
        try:
            ct_cached, ct_uncached = pair()
        finally:
            mesh.verifier._fast = fast
        for v in (cached, uncached, ct_cached, ct_uncached):
            v.verify(auth, peer_cert_der=der, required_scope="read")

        print(f"python verifier ({header.get('alg')}, token {len(tok)} bytes, best of {ROUNDS} "
              f"rounds, one thread, /usr/bin/python3; mesh.fast_path: {mesh.fast_path})")
        env = {"auth": auth, "der": der, "cached": cached, "uncached": uncached,
               "ct_cached": ct_cached, "ct_uncached": ct_uncached}
        call = ".verify(auth, peer_cert_der=der, required_scope='read')"
        r_unc = rate("uncached" + call, env)
        r_cac = rate("cached" + call, env)
        r_sub = rate("cached" + call + ".subject", env)
        c_unc = rate("ct_uncached" + call, env)
        c_cac = rate("ct_cached" + call, env)
        path = "compiled" if mesh.fast else "ctypes"
        print(f"  mesh.Verifier.verify, uncached ({path})   {r_unc:12.0f} /s")
        print(f"  mesh.Verifier.verify, cached ({path})     {r_cac:12.0f} /s")
        print(f"  cached + identity.subject ({path})        {r_sub:12.0f} /s")
        print(f"  mesh.Verifier.verify, uncached (ctypes)     {c_unc:12.0f} /s")
        print(f"  mesh.Verifier.verify, cached (ctypes)       {c_cac:12.0f} /s")
        try:
            import jwt  # PyJWT (python3-jwt) on cryptography (python3-cryptography)
            import requests

            jwks = requests.get(m.url + "/.well-known/jwks.json", verify=m.ca, timeout=5).json()
            k = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
            pub = jwt.PyJWK(k).key

            def pyjwt() -> None:
                jwt.decode(tok, pub, algorithms=[header["alg"]], audience="svc-b", issuer=m.url,
                           options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]})

            r_jwt = rate("pyjwt()", {"pyjwt": pyjwt})
            print(f"  PyJWT {jwt.__version__} decode (signature + claims) "
                  f"{r_jwt:10.0f} /s   mesh uncached {r_unc / r_jwt:.2f}x, "
                  f"cached {r_cac / r_jwt:.1f}x")
        except ImportError as e:
            print(f"  PyJWT: not measured ({e.name} missing; ./dev deps installs python3-jwt)")
        out = {"uncached": r_unc, "cached": r_cac, "ctypes_uncached": c_unc,
               "ctypes_cached": c_cac}
        print("  " + json.dumps({k: round(v) for k, v in out.items()}))
        for v in (cached, uncached, ct_cached, ct_uncached):
            v.close()
    finally:
        m.stop()
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
