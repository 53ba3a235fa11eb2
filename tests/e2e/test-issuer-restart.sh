#!/usr/bin/env bash
# mesh-issuer crashes (SIGKILL) and restarts while traffic flows: callers with cached tokens
# never notice, callers that need a token recover once it is back, and no revocation is
# lost (the ones made before the crash still hold, new ones after it still reach verifiers).
. "$(dirname "$0")/lib.sh"

jti_of() { # token -> its jti (the payload, base64url-decoded)
    local p
    p=$(cut -d. -f2 <<<"$1" | tr '_-' '/+')
    while ((${#p} % 4)); do p+='='; done
    base64 -d <<<"$p" 2>/dev/null | sed -n 's/.*"jti":"\([^"]*\)".*/\1/p'
}
feed() { # the issuer's revocation feed from the start
    curl -s --cert "$MESH_CERTS_DIR/web-service/cert.pem" --key "$MESH_CERTS_DIR/web-service/key.pem" \
        --cacert "$MESH_CERTS_DIR/ca.pem" "$MESH_ISSUER_URL/v1/revocations?since=0"
}
is_status() { [[ $(gw_status "$1" "$2" "$3") == "$4" ]]; }

mesh_up
log "mesh up: issuer $MESH_ISSUER_URL, gateway $GATEWAY_URL"
traffic_start before
A=$TRAFFIC_PID

t0=$(token_for web-service)
t1=$(token_for web-service)
check "a fresh token works" is_status web-service "$t1" /assets/1 200
check "revoke t1 before the crash" test "$(revoke web-service "$t1")" = 200
check "the gateway rejects t1 (feed)" eventually 30 is_status web-service "$t1" /assets/1 401

t2=$(token_for web-service)
check "t2 works" is_status web-service "$t2" /assets/2 200
check "revoke t2 right before the crash" test "$(revoke web-service "$t2")" = 200
stop_pid "$(demo_pid issuer)" KILL
log "mesh-issuer killed (SIGKILL)"

# While the issuer is down: cached tokens keep working; a caller that needs a token fails,
# and a long-lived one started now recovers when the issuer is back.
check "a token fetched before the crash works while the issuer is down" \
    is_status web-service "$t0" /assets/3 200
check "revoked t1 stays rejected while the issuer is down" is_status web-service "$t1" /assets/3 401
traffic_start during
D=$TRAFFIC_PID
sleep 2

spawn issuer "$ISSUER" serve --config "$ISSUER_CONFIG"
check "mesh-issuer restarts on the same port" eventually 60 issuer_healthy

feed_now=$(feed)
check "t1's revocation survived the crash" eval '[[ $feed_now == *"$(jti_of "$t1")"* ]]'
check "t2's revocation (answered just before SIGKILL) survived" \
    eval '[[ $feed_now == *"$(jti_of "$t2")"* ]]'
check "the gateway rejects t2" eventually 30 is_status web-service "$t2" /assets/4 401

t3=$(token_for web-service)
check "a new caller gets a token after the restart" is_status web-service "$t3" /assets/5 200
check "revoke t3 after the restart" test "$(revoke web-service "$t3")" = 200
check "the gateway picks up a revocation made after the restart" \
    eventually 30 is_status web-service "$t3" /assets/5 401

last_ok() { [[ $(tail -n 1 "$T/traffic-during.log") =~ ^[0-9]+\ 200$ ]]; }
check "a caller started while the issuer was down recovers" eventually 60 last_ok
sleep 1
traffic_stop before "$A"; summary=$SUMMARY
log "traffic through the crash: $summary"
check "traffic with a cached token never failed" eval '[[ $summary == *"failed: 0"* && $summary != "requests: 0,"* ]]'
traffic_stop during "$D"; summary=$SUMMARY
log "traffic started during the outage: $summary"
