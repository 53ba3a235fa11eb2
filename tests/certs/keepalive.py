"""A keep-alive HTTPS connection across a reload of the server's certificate.

usage: keepalive.py URL CA_FILE CLIENT_CERT CLIENT_KEY TIMEOUT_S COMMAND...

Opens one connection to URL (GET /healthz), runs COMMAND (which replaces the server's
certificate), then opens new connections until one presents another serial (at most
TIMEOUT_S seconds), then sends a second request on the first connection. Prints JSON:
old_serial, new_serial, old_conn_status, old_conn_serial. Exit status 0 when it got that far.
"""
import http.client
import json
import ssl
import subprocess
import sys
import time
import urllib.parse


def connect(host, port, ctx):
    c = http.client.HTTPSConnection(host, port, context=ctx, timeout=10)
    c.request("GET", "/healthz")
    r = c.getresponse()
    r.read()
    return c, r.status, c.sock.getpeercert()["serialNumber"]


def main():
    url, cafile, cert, key = sys.argv[1:5]
    timeout = float(sys.argv[5])
    cmd = sys.argv[6:]
    u = urllib.parse.urlsplit(url)
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False  # the names are the certificate's business, not this test's
    # A client certificate: the issuer keeps an unauthenticated connection idle only briefly.
    ctx.load_cert_chain(cert, key)
    keep, status, old = connect(u.hostname, u.port, ctx)
    out = {"old_serial": old, "first_status": status}
    subprocess.run(cmd, check=True)
    deadline = time.monotonic() + timeout
    new = old
    while new == old and time.monotonic() < deadline:
        c, _, new = connect(u.hostname, u.port, ctx)
        c.close()
        if new == old:
            time.sleep(0.2)
    out["new_serial"] = new
    keep.request("GET", "/healthz")
    r = keep.getresponse()
    r.read()
    out["old_conn_status"] = r.status
    out["old_conn_serial"] = keep.sock.getpeercert()["serialNumber"]
    keep.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
