#!/usr/bin/env bash
# Short-lived certificates under continuous traffic through the gateway path (issue 12): the
# demo mesh with mesh-issuer signing 60-second certificates; web-service (the caller example)
# and the gateway renew their own certificates (MESH_RENEW=1, libmesh's client), asset-service's
# pair is renewed by `mesh renew --daemon` signalling it (SIGHUP reload), the gateway's server
# side picks up its renewed files (MESH_TLS_RELOAD_POLL_MS). Three renewals of each, 0 failed
# requests. Registered in meson only once issuer/certs.c exists; skips nothing. TAP.
. "$MESH_SOURCE_ROOT/tests/e2e/lib.sh"

MESH=$B/libmesh/cli/mesh
serial() { openssl x509 -in "$1" -noout -serial 2>/dev/null | cut -d= -f2; }

mesh_up
C=$MESH_CERTS_DIR
"$MESH_CA" issuer-ca --dir "$C" >"$T/issuer-ca.log" 2>&1 || { cat "$T/issuer-ca.log"; exit 1; }
# The demo's issuer config with a certificates section: 60 s certificates for the three.
jq --arg crl "$T/issuing-crl.pem" '. + {certificates: {
      ca_cert: "certs/issuing-ca.pem", ca_key: "certs/issuing-ca.key", crl: $crl,
      trust_domain: "mesh.local", min_lifetime: 60, default_lifetime: 60,
      services: [
        {name: "web-service", dns: ["web-service", "localhost"], ips: ["127.0.0.1"]},
        {name: "gateway", dns: ["gateway", "localhost"], ips: ["127.0.0.1"]},
        {name: "asset-service", dns: ["asset-service", "localhost"], ips: ["127.0.0.1"]}]}}' \
    "$ISSUER_CONFIG" >"$T/issuer.json"
cp "$T/issuer.json" "$ISSUER_CONFIG"
stop_pid "$(demo_pid issuer)"
spawn issuer "$ISSUER" serve --config "$ISSUER_CONFIG"
check "mesh-issuer restarts with a certificates section" eventually 60 issuer_healthy

# Each service's first 60 s certificate, renewed from its mesh-ca one.
for s in web-service gateway asset-service; do
    check "mesh renew --service $s: a 60 s certificate" \
        quiet "$MESH" renew --service "$s"
done

# asset-service and the gateway again, renewing (same ports: the gateway's backend, the URL).
a_port=${ASSETS_URL##*:}
g_port=${GATEWAY_URL##*:}
stop_pid "$(demo_pid gateway)"
stop_pid "$(demo_pid asset-service)"
spawn asset-service env MESH_TLS_RELOAD_POLL_MS=500 "$ASSETS" --listen "127.0.0.1:$a_port" \
    --port-file "$T/assets.port"
APID=$LAST_PID
check "asset-service restarts" eventually 60 test -s "$T/assets.port"
spawn gateway env MESH_RENEW=1 MESH_TLS_RELOAD_POLL_MS=500 "$GATEWAY" \
    --listen "127.0.0.1:$g_port" --port-file "$T/gateway.port" --backend "$ASSETS_URL" \
    --revocation-poll-ms 1000
check "gateway restarts, renewing its certificate" eventually 60 test -s "$T/gateway.port"
spawn renew-assets "$MESH" renew --daemon --json --service asset-service --signal "$APID:HUP"

first_web=$(serial "$C/web-service/cert.pem")
first_gw=$(serial "$C/gateway/cert.pem")
first_as=$(serial "$C/asset-service/cert.pem")
MESH_RENEW=1 traffic_start web --service web-service
TRAFFIC=$TRAFFIC_PID

# Distinct serials seen per service (bounded wait: 240 s for three renewals each, ~20 s apart).
declare -A seen
track() {
    local s
    for s in web-service gateway asset-service; do
        seen[$s]+=" $(serial "$C/$s/cert.pem")"
    done
}
count() { tr ' ' '\n' <<<"${seen[$1]}" | grep -v '^$' | sort -u | wc -l; }
for ((i = 0; i < 960; i++)); do
    track
    if (($(count web-service) >= 4 && $(count gateway) >= 4 && $(count asset-service) >= 4)); then
        break
    fi
    sleep 0.25
done
traffic_stop web "$TRAFFIC"
check "web-service renewed its certificate three times (serials: $(count web-service))" \
    test "$(count web-service)" -ge 4
check "the gateway renewed its certificate three times (serials: $(count gateway))" \
    test "$(count gateway)" -ge 4
check "asset-service's pair was renewed three times (serials: $(count asset-service))" \
    test "$(count asset-service)" -ge 4
check "... by mesh renew --daemon, which signalled it" \
    test "$(grep -c '"event":"renewed"' "$T/renew-assets.log")" -ge 3
check "the serials moved on from the first certificates" \
    test "$(serial "$C/web-service/cert.pem")" != "$first_web" -a \
    "$(serial "$C/gateway/cert.pem")" != "$first_gw" -a \
    "$(serial "$C/asset-service/cert.pem")" != "$first_as"
log "traffic: $SUMMARY"
check "continuous traffic through the gateway: requests made" \
    eval '[[ $SUMMARY =~ ok:\ ([0-9]+) && ${BASH_REMATCH[1]} -gt 20 ]]'
check "... and 0 failed requests" eval '[[ $SUMMARY == *"failed: 0" ]]'
check "the gateway took its renewed files without a restart" grep -q "reloaded" "$T/gateway.log"
check "asset-service reloaded on SIGHUP" grep -q "reloaded .*SIGHUP" "$T/asset-service.log"
