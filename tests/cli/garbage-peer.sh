#!/usr/bin/env bash
# A TLS peer that answers garbage (openssl s_server -rev echoes the request reversed, which
# curl reads as "HTTP/0.9") is a network failure of the peer, not a configuration error of
# the caller: `mesh token` must say network_error. Usage: garbage-peer.sh MESH MESH_CA TEMPLATE
set -uo pipefail
MESH=$(realpath "$1") MESH_CA=$(realpath "$2") TEMPLATE=$(realpath "$3")
work=$(mktemp -d)
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
"$MESH_CA" init --template "$TEMPLATE" --dir certs >/dev/null || { echo "FAIL: mesh-ca init"; exit 1; }

for attempt in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 40000))
    openssl s_server -quiet -rev -accept "127.0.0.1:$port" -cert certs/issuer/cert.pem \
        -cert_chain certs/intermediate.pem -key certs/issuer/key.pem </dev/null >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break 2
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$pid" 2>/dev/null
    pid=
done
[[ -n $pid ]] || { echo "FAIL: openssl s_server did not start"; exit 1; }

out=$(TLS_CERT_PATH=certs/web-service/cert.pem TLS_KEY_PATH=certs/web-service/key.pem \
    TLS_CA_PATH=certs/ca.pem MESH_ISSUER_URL="https://127.0.0.1:$port" \
    timeout 120 "$MESH" token --audience gateway 2>&1 >/dev/null)
rc=$?
if [[ $rc == 1 && $out == *"network_error: "* ]]; then
    echo "1 passed, 0 failed"
    exit 0
fi
echo "FAIL: expected network_error (exit 1), got exit $rc: $out"
exit 1
