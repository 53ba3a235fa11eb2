#!/usr/bin/env bash
# mesh-authz's own listeners: at most max_connections open connections per listener (the one
# over the cap is closed before anything is read from it, and counted in
# mesh_authz_connections_refused_total); the TLS listener takes a renewed certificate pair
# without a restart (SIGHUP, or the files changing), connections already open kept. Real
# processes: mesh-ca, mesh-issuer, mesh-authz on a unix socket, loopback TCP and TLS.
. "$(dirname "$0")/lib.sh"

mesh_certs
issuer_up
cat "$CERTS/ca.pem" "$CERTS/intermediate.pem" >"$T/bundle.pem"
# the TLS listener's own pair, renewed in place below as mesh_renew_once writes it
mkdir -m 700 "$T/tls"
cp "$CERTS/asset-service/cert.pem" "$T/tls/cert.pem"
(umask 077 && cp "$CERTS/asset-service/key.pem" "$T/tls/key.pem")

cat >"$T/authz.json" <<JSON
{
  "listen": [{"unix": "$T/authz.sock", "max_connections": 3},
             {"tcp": "127.0.0.1:0", "max_connections": 2},
             {"tcp": "127.0.0.1:0", "tls": {"cert": "$T/tls/cert.pem", "key": "$T/tls/key.pem",
              "client_ca": "$CERTS/ca.pem", "allowed_proxies": ["spiffe://mesh.local/gateway"]}}],
  "metrics": "127.0.0.1:0",
  "workers": 2,
  "trust": {"bundle": "$T/bundle.pem"},
  "issuers": {"mesh": {"kind": "mesh", "url": "$ISSUER_URL", "ca": "$CERTS/ca.pem"}},
  "routes": [{"name": "health", "prefix": "/healthz", "public": true},
             {"name": "assets", "prefix": "/assets/", "audience": "gateway"}]
}
JSON
authz_up "$T/authz.json" || { not_ok "mesh-authz did not start"; exit 1; }
TCP=$(jq -r '.listen[1]' "$T/authz.ready")
TLS=$(jq -r '.listen[2]' "$T/authz.ready")
metric() { curl -sf "http://$METRICS/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

# conns.py ADDRESS CAP: CAP keep-alive connections answered, one more closed unanswered, and
# after one of the CAP closes, a new one answered again (polled: the close is asynchronous).
cat >"$T/conns.py" <<'PY'
import socket, sys, time

addr, cap = sys.argv[1], int(sys.argv[2])
REQ = (b"GET /auth HTTP/1.1\r\nHost: authz\r\nX-Original-Method: GET\r\n"
       b"X-Original-URI: /healthz\r\n\r\n")

def connect():
    if addr.startswith("/"):
        s = socket.socket(socket.AF_UNIX)
        s.connect(addr)
    else:
        host, port = addr.rsplit(":", 1)
        s = socket.create_connection((host, int(port)))
    s.settimeout(20)
    return s

def answered(s):
    """True: an HTTP response came; False: the connection was closed with nothing."""
    try:
        s.sendall(REQ)
        data = s.recv(4096)
    except (ConnectionResetError, BrokenPipeError):
        return False
    return data.startswith(b"HTTP/1.1 ")

held = [connect() for _ in range(cap)]
for i, s in enumerate(held):
    if not answered(s):
        sys.exit(f"connection {i + 1} of {cap} was not answered")
extra = connect()
if answered(extra):
    sys.exit(f"connection {cap + 1} (over max_connections {cap}) was answered")
extra.close()
held.pop().close()
for _ in range(100):
    s = connect()
    if answered(s):
        print("ok")
        sys.exit(0)
    s.close()
    time.sleep(0.1)
sys.exit("no connection answered after one of the held ones closed")
PY

out=$(python3 "$T/conns.py" "$T/authz.sock" 3 2>&1) || true
check "unix listener, max_connections 3: 3 answered, the 4th closed unanswered, then room again" \
    eval '[[ $out == ok ]] || { log "$out"; false; }'
out=$(python3 "$T/conns.py" "$TCP" 2 2>&1) || true
check "tcp listener, max_connections 2: the same" eval '[[ $out == ok ]] || { log "$out"; false; }'
# each run refused one; the retry loop may have been refused a few times more
check "mesh_authz_connections_refused_total counts the connections closed over the cap" \
    eval '(( $(metric mesh_authz_connections_refused_total) >= 2 ))'
check "mesh_authz_connections_open falls back to 0 when the clients have gone" \
    eventually 10 eval '[[ $(metric mesh_authz_connections_open) == 0 ]]'

sed 's/"max_connections": 3/"max_connections": 1025/' "$T/authz.json" >"$T/bad.json"
rc=0
err=$("$AUTHZ" --check-config --config "$T/bad.json" 2>&1) || rc=$?
check "max_connections over MESH_AUTHZ_MAX_CONNECTIONS (1024): refused with its key path" \
    eval '[[ $rc == 1 && $err == *"listen[0].max_connections"* ]] || { log "$err"; false; }'

# ---- the TLS listener's pair renewed in place: SIGHUP, then the files changing alone ----
# tlsrenew.py ADDRESS NEWSVC PID|-: one connection open and answered; the pair replaced as a
# renewal does (<key>.new and <cert>.new, then renamed, the certificate first); SIGHUP to PID
# unless "-"; then new connections see NEWSVC's certificate (polled), and the old connection
# still answers with the certificate it began with.
cat >"$T/tlsrenew.py" <<'PY'
import hashlib, http.client, os, signal, ssl, sys, time

addr, newsvc, pid = sys.argv[1], sys.argv[2], sys.argv[3]
certs, tls = os.environ["CERTS"], os.environ["TLSDIR"]
ctx = ssl.create_default_context(cafile=certs + "/ca.pem")
ctx.check_hostname = False
ctx.load_cert_chain(certs + "/gateway/cert.pem", certs + "/gateway/key.pem")
host, port = addr.rsplit(":", 1)

def connect():
    c = http.client.HTTPSConnection(host, int(port), timeout=20, context=ctx)
    c.connect()
    return c, hashlib.sha256(c.sock.getpeercert(binary_form=True)).hexdigest()

def answered(c):  # one keep-alive request on the connection
    c.request("GET", "/nginx", headers={"X-Original-Method": "GET", "X-Original-URI": "/healthz"})
    r = c.getresponse()
    r.read()
    return r.status == 200 and not r.will_close

def der_hash(path):  # of the leaf, the chain file's first certificate
    end = "-----END CERTIFICATE-----"
    leaf = open(path).read().split(end)[0] + end + "\n"
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(leaf)).hexdigest()

old, old_hash = connect()
if not answered(old):
    sys.exit("the first connection was not answered")
src = certs + "/" + newsvc
with open(tls + "/key.pem.new", "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
    f.write(open(src + "/key.pem").read())
with open(tls + "/cert.pem.new", "w") as f:
    f.write(open(src + "/cert.pem").read())
os.rename(tls + "/cert.pem.new", tls + "/cert.pem")
os.rename(tls + "/key.pem.new", tls + "/key.pem")
if pid != "-":
    os.kill(int(pid), signal.SIGHUP)
want = der_hash(src + "/cert.pem")
for _ in range(150):
    s, h = connect()
    ok = answered(s)
    s.close()
    if h == want and ok:
        break
    time.sleep(0.1)
else:
    sys.exit("new connections never got the renewed certificate")
if old_hash == want:
    sys.exit("the old connection had the new certificate (the test set-up is wrong)")
if not answered(old):
    sys.exit("the connection opened before the renewal was not answered after it")
print("ok")
PY
export CERTS TLSDIR=$T/tls
out=$(python3 "$T/tlsrenew.py" "$TLS" chat-service "$AUTHZ_PID" 2>&1) || true
check "TLS listener, pair renewed + SIGHUP: new connections get it, the open one still answers" \
    eval '[[ $out == ok ]] || { log "$out"; false; }'
out=$(python3 "$T/tlsrenew.py" "$TLS" web-service - 2>&1) || true
check "TLS listener, pair renewed without a signal: picked up from the files (polled)" \
    eval '[[ $out == ok ]] || { log "$out"; false; }'
check "... and the log says which listener reloaded and why" \
    eval 'grep -q "tls certificate .*reloaded (SIGHUP)" "$T/authz.log" &&
          grep -q "tls certificate .*reloaded (the files changed)" "$T/authz.log"'
printf 'not a key\n' >"$T/tls/key.pem.new"
mv "$T/tls/key.pem.new" "$T/tls/key.pem"
kill -HUP "$AUTHZ_PID"
check "a broken pair: the reload fails loudly, the previous certificate still serves" \
    eval 'eventually 20 grep -q "tls reload failed: still serving the previous certificate" "$T/authz.log" &&
          [[ $(curl -s -o /dev/null -w "%{http_code}" --cacert "$CERTS/ca.pem" \
                   --cert "$CERTS/gateway/cert.pem" --key "$CERTS/gateway/key.pem" \
                   -H "X-Original-Method: GET" -H "X-Original-URI: /healthz" \
                   "https://$TLS/nginx") == 200 ]]'
