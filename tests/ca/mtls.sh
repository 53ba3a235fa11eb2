#!/usr/bin/env bash
# mTLS between two generated services works; a certificate from another mesh-ca run does not.
. "$(dirname "$0")/lib.sh"

expect 0 init --template "$TEMPLATE" --dir certs
expect 0 init --template "$TEMPLATE" --dir other

: >server.log # exists before the server's shell opens it: no race with the poll below
openssl s_server -accept 127.0.0.1:0 -www -naccept 10 \
    -cert certs/gateway/cert.pem -cert_chain certs/gateway/cert.pem \
    -key certs/gateway/key.pem -CAfile certs/ca.pem \
    -Verify 3 -verify_return_error >server.log 2>&1 &
PIDS+=($!)
port=
for _ in $(seq 1 100); do
    port=$(sed -n 's/^ACCEPT 127.0.0.1:\([0-9]*\)$/\1/p' server.log || true)
    [[ -n $port ]] && break
    sleep 0.1
done
[[ -n $port ]] || { cat server.log; fail "s_server did not start"; }

# chain in cert.pem (leaf + intermediate) lets the peer build the path to ca.pem
curl -sS --fail --cacert certs/ca.pem --cert certs/auth-service/cert.pem \
    --key certs/auth-service/key.pem --resolve "gateway:$port:127.0.0.1" \
    "https://gateway:$port/" >page || fail "mTLS auth-service -> gateway failed"
has page "s_server"
curl -sS --fail --cacert certs/ca.pem --cert certs/auth-service/cert.pem \
    --key certs/auth-service/key.pem "https://localhost:$port/" >/dev/null ||
    fail "localhost SAN"
ok "mTLS handshake between two generated services (DNS gateway and localhost)"

if curl -sS --fail --cacert certs/ca.pem --cert other/auth-service/cert.pem \
    --key other/auth-service/key.pem "https://localhost:$port/" >/dev/null 2>curl.err; then
    fail "a client certificate from another mesh-ca run was accepted"
fi
if curl -sS --fail --cacert other/ca.pem --cert other/auth-service/cert.pem \
    --key other/auth-service/key.pem "https://localhost:$port/" >/dev/null 2>curl.err; then
    fail "the server certificate verified against another mesh's CA"
fi
ok "certificates from a different mesh-ca run are rejected both ways"
