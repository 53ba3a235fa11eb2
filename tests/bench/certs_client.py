"""Keep-alive mTLS renewals against mesh-issuer's POST /v1/certificate (tests/bench/certs-issue.sh).

usage: certs_client.py URL CA CERT KEY N CONNS OUT_LEAF ISSUER_PID

Makes N P-256 CSRs for the SPIFFE ID of CERT first (so that the issuer's CPU time measured
around the requests is spent on requests only), then sends them over CONNS keep-alive mTLS
connections (one thread each, authenticated by CERT: renewals), and prints JSON: requests, ok,
wall_seconds, issuer_cpu_seconds (utime + stime of ISSUER_PID from /proc around the requests). The last issued leaf is written to OUT_LEAF (the raw-OpenSSL baseline signs it).
"""
import http.client
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    url, ca, cert, key = sys.argv[1:5]
    n, conns, out_leaf, pid = int(sys.argv[5]), int(sys.argv[6]), sys.argv[7], int(sys.argv[8])
    with open(cert, "rb") as f:
        current = x509.load_pem_x509_certificate(f.read())
    san = current.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    uri = san.get_values_for_type(x509.UniformResourceIdentifier)[0]
    bodies = []
    for _ in range(n):
        k = ec.generate_private_key(ec.SECP256R1())
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, uri.rsplit("/", 1)[1])]))
               .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri)]),
                              critical=False)
               .sign(k, hashes.SHA256()))
        pem = csr.public_bytes(serialization.Encoding.PEM).decode()
        bodies.append(json.dumps({"csr": pem}).encode())
    u = urllib.parse.urlsplit(url)
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    ctx.load_cert_chain(cert, key)
    ok = [0] * conns
    last = [None]
    errors = []

    def run(i):
        c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=30)
        for b in bodies[i::conns]:
            c.request("POST", "/v1/certificate", body=b,
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read()
            if r.status == 200:
                ok[i] += 1
                last[0] = data
            elif not errors:
                errors.append("HTTP %d: %s" % (r.status, data[:300]))
        c.close()

    cpu0 = proc_cpu(pid)
    t0 = time.monotonic()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    cpu = proc_cpu(pid) - cpu0
    for e in errors:
        sys.stderr.write("certs_client: the first failure: %s\n" % e)
    if last[0] is not None:
        with open(out_leaf, "w") as f:
            f.write(json.loads(last[0])["certificate"])
    print(json.dumps({"requests": n, "ok": sum(ok), "conns": conns, "wall_seconds": round(wall, 3),
                      "issuer_cpu_seconds": round(cpu, 3)}))


if __name__ == "__main__":
    main()
