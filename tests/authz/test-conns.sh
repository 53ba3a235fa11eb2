#!/usr/bin/env bash
# mesh-authz's own listeners: at most max_connections open connections per listener (the one
# over the cap is closed before anything is read from it, and counted in
# mesh_authz_connections_refused_total), with real processes: mesh-ca, mesh-issuer,
# mesh-authz on a unix socket and loopback TCP.
. "$(dirname "$0")/lib.sh"

mesh_certs
issuer_up
cat "$CERTS/ca.pem" "$CERTS/intermediate.pem" >"$T/bundle.pem"

cat >"$T/authz.json" <<JSON
{
  "listen": [{"unix": "$T/authz.sock", "max_connections": 3},
             {"tcp": "127.0.0.1:0", "max_connections": 2}],
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
