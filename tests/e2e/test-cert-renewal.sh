#!/usr/bin/env bash
# Certificate renewal: `mesh-ca renew` writes new certificates and keys; a running service
# keeps its old identity until it restarts, and picks up the new one on restart. Tokens are
# bound to the certificate they were issued for: an old token does not work with the new
# certificate, a new one does.
. "$(dirname "$0")/lib.sh"

fp() { openssl x509 -noout -fingerprint -sha256 -in "$1" | cut -d= -f2; }
served_fp() { # port: the certificate asset-service presents (we connect as the gateway)
    openssl s_client -connect "127.0.0.1:$1" -cert "$MESH_CERTS_DIR/gateway/cert.pem" \
        -key "$MESH_CERTS_DIR/gateway/key.pem" -CAfile "$MESH_CERTS_DIR/ca.pem" \
        </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 | cut -d= -f2
}

mesh_up
port=${ASSETS_URL##*:}
old_assets=$(fp "$MESH_CERTS_DIR/asset-service/cert.pem")
old_web=$(fp "$MESH_CERTS_DIR/web-service/cert.pem")
t_old=$(token_for web-service)
check "before: web-service's token works" \
    eval '[[ $(gw_status web-service "$t_old" /assets/1) == 200 ]]'
check "before: asset-service serves its certificate" eval '[[ $(served_fp "$port") == "$old_assets" ]]'

"$MESH_CA" renew asset-service web-service --dir "$MESH_CERTS_DIR" >"$T/renew.log" 2>&1
check "mesh-ca renew wrote a new asset-service certificate" \
    eval '[[ $(fp "$MESH_CERTS_DIR/asset-service/cert.pem") != "$old_assets" ]]'
check "mesh-ca renew wrote a new web-service certificate" \
    eval '[[ $(fp "$MESH_CERTS_DIR/web-service/cert.pem") != "$old_web" ]]'
check "the running asset-service still serves the old certificate" \
    eval '[[ $(served_fp "$port") == "$old_assets" ]]'

stop_pid "$(demo_pid asset-service)"
spawn asset-service "$ASSETS" --listen "127.0.0.1:$port" --port-file "$T/assets.port"
check "asset-service restarts on its port" eventually 60 test -s "$T/assets.port"
check "after the restart it serves the renewed certificate" \
    eval '[[ $(served_fp "$port") == "$(fp "$MESH_CERTS_DIR/asset-service/cert.pem")" ]]'

out=$("$CALLER" "$GATEWAY_URL/assets/1" 2>&1) || true
check "web-service with its renewed certificate -> gateway -> renewed asset-service: 200" \
    eval '[[ $out == "HTTP 200"* && $out == *spiffe://mesh.local/web-service* ]]'
check "a token bound to the old certificate fails with the new one (401)" \
    eval '[[ $(gw_status web-service "$t_old" /assets/1) == 401 ]]'
t_new=$(token_for web-service)
check "a token for the new certificate works" \
    eval '[[ $(gw_status web-service "$t_new" /assets/1) == 200 ]]'
