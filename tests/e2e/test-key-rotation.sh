#!/usr/bin/env bash
# Signing-key rotation with SIGHUP while traffic flows (TOKENS.md "Rotation"): publish the
# next key, wait for verifiers' JWKS caches, switch signing to it keeping the old key
# published as previous. No request may fail: neither a long-lived caller holding a token
# signed with the old key, nor fresh callers getting tokens signed with the new one.
. "$(dirname "$0")/lib.sh"

kid_of() { # token -> the kid of its header
    local p
    p=$(cut -d. -f1 <<<"$1" | tr '_-' '/+')
    while ((${#p} % 4)); do p+='='; done
    base64 -d <<<"$p" 2>/dev/null | sed -n 's/.*"kid":"\([^"]*\)".*/\1/p'
}
jwks_kids() {
    curl -s --cacert "$MESH_CERTS_DIR/ca.pem" "$MESH_ISSUER_URL/.well-known/jwks.json" |
        grep -o '"kid":"[^"]*"' | wc -l
}
set_keys() { # the signing_keys JSON object, then SIGHUP
    sed -i "s|^  \"signing_keys\": .*|  \"signing_keys\": $1,|" "$ISSUER_CONFIG"
    kill -HUP "$(demo_pid issuer)"
}

# Verifiers honour the JWKS max-age (clamped to at least 10 s): keep it short so the test
# waits one cache period, as an operator would, instead of five minutes.
export MESH_DEMO_JWKS_MAX_AGE=10
mesh_up
old_kid=$(kid_of "$(token_for web-service)")
log "signing with $old_kid"

# Fresh callers: a new process (so a new token) every 300 ms, until told to stop.
fresh_loop() {
    while [[ ! -e $T/stop-fresh ]]; do
        s=$("$CALLER" "$GATEWAY_URL/assets/9" 2>&1 | head -n 1) || true
        echo "$s"
        sleep 0.3
    done
}
fresh_loop >"$T/fresh.log" 2>&1 &
OWN_PIDS+=("$!")
F=$!
traffic_start steady
S=$TRAFFIC_PID
sleep 2

(umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$MESH_CERTS_DIR/jwt-next.key" 2>/dev/null)
set_keys '{"current": "certs/jwt-signing.key", "next": "certs/jwt-next.key"}'
check "SIGHUP: the JWKS publishes current + next" eventually 30 eval '[[ $(jwks_kids) == 2 ]]'
check "tokens are still signed with the old key" \
    eval '[[ $(kid_of "$(token_for web-service)") == "$old_kid" ]]'
log "waiting one JWKS cache period (12 s) so every verifier knows the next key"
sleep 12

set_keys '{"current": "certs/jwt-next.key", "previous": "certs/jwt-signing.key"}'
new_kid_now() { k=$(kid_of "$(token_for web-service)"); [[ -n $k && $k != "$old_kid" ]]; }
check "SIGHUP: new tokens are signed with the new key" eventually 30 new_kid_now
check "the JWKS still publishes the previous key" eval '[[ $(jwks_kids) == 2 ]]'
t_new=$(token_for web-service)
check "the gateway accepts a token signed with the new key" \
    eval '[[ $(gw_status web-service "$t_new" /assets/1) == 200 ]]'
sleep 3

touch "$T/stop-fresh"
wait "$F" || true
traffic_stop steady "$S"; summary=$SUMMARY
log "steady caller (token from before the rotation): $summary"
check "no request of the steady caller failed" \
    eval '[[ $summary == *"failed: 0"* && $summary != "requests: 0,"* ]]'
n=$(grep -c . "$T/fresh.log" || true)
bad=$(grep -vc '^HTTP 200$' "$T/fresh.log" || true)
log "fresh callers: $n requests, $bad not 200"
check "no request of the fresh callers failed" eval '((n > 0 && bad == 0))'
