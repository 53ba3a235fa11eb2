#!/usr/bin/env bash
# What Envoy (ext_authz HTTP service, x-forwarded-client-cert) and Traefik (forwardAuth with
# passTLSClientCert) send mesh-authz, as their docs say they send it, with real certificates
# and tokens from mesh-ca and mesh-issuer (neither proxy is installable here: this test plays
# their part with curl). Also: the per-route binding rule on one verifier, the loopback TCP
# listener, and hostile certificate headers at and over their limits.
. "$(dirname "$0")/lib.sh"

check "examples/authz/envoy.yaml and traefik-dynamic.yml parse, and use mesh-authz's paths" \
    eval 'python3 -c "import sys, yaml; [yaml.safe_load(open(f)) for f in sys.argv[1:]]" \
              "$S/examples/authz/envoy.yaml" "$S/examples/authz/traefik-dynamic.yml" &&
          grep -q "path_prefix: /envoy" "$S/examples/authz/envoy.yaml" &&
          grep -q "address: http://127.0.0.1:9191/forward" "$S/examples/authz/traefik-dynamic.yml"'

mesh_certs
issuer_up
cat "$CERTS/ca.pem" "$CERTS/intermediate.pem" >"$T/bundle.pem"
cp "$T/bundle.pem" "$CERTS/bundle.pem"
sed "s|/etc/mesh/certs|$CERTS|g" "$S/examples/authz/authz.json" >"$T/example.json"
check "examples/authz/authz.json passes --check-config (its files made by mesh-ca)" \
    eval '"$AUTHZ" --check-config --config "$T/example.json" >/dev/null'
sed "s|gateway/key.pem|gateway/missing.pem|" "$T/example.json" >"$T/example-bad.json"
rc=0
out=$("$AUTHZ" --check-config --config "$T/example-bad.json" 2>&1) || rc=$?
check "--check-config names a file it cannot read, with its key path: exit 1" \
    eval '[[ $rc == 1 && $out == *"issuers.mesh.key: $CERTS/gateway/missing.pem"* ]]'
# A second, independent issuer (its own URL and store): a route may accept either.
ISSUER1_URL=$ISSUER_URL
for attempt in 1 2 3 4 5; do
    port2=$(free_port)
    sed -e "s|${ISSUER_URL#https://}|127.0.0.1:$port2|g" -e "s|issuer.db|issuer2.db|" \
        "$T/issuer.json" >"$T/issuer2.json"
    spawn issuer2 "$ISSUER" serve --config "$T/issuer2.json"
    ISSUER2_PID=$LAST_PID
    if eventually "$START_TIMEOUT" curl -sf -o /dev/null --cacert "$CERTS/ca.pem" \
        "https://127.0.0.1:$port2/healthz"; then
        ISSUER2_URL=https://127.0.0.1:$port2
        break
    fi
    stop_pid "$ISSUER2_PID"
done

# A service token for CI: unbound, subject svc-token:ci.
ci_json=$("$ISSUER" token create ci --audience gateway --scope assets:read --json \
    --config "$T/issuer.json")
# Not exported: with MESH_CLIENT_ID set, the caller would use the service token too.
ci_id=$(jq -r .client_id <<<"$ci_json")
ci_secret=$(jq -r .client_secret <<<"$ci_json")
unset ci_json

cat >"$T/authz.json" <<JSON
{
  "listen": [{"unix": "$T/authz.sock"}, {"tcp": "127.0.0.1:0"},
             {"tcp": "127.0.0.1:0", "tls": {"cert": "$CERTS/asset-service/cert.pem",
              "key": "$CERTS/asset-service/key.pem", "client_ca": "$CERTS/ca.pem",
              "allowed_proxies": ["spiffe://mesh.local/gateway"]}}],
  "workers": 2,
  "trust": {"bundle": "$T/bundle.pem"},
  "issuers": {"mesh": {"kind": "mesh", "url": "$ISSUER_URL", "ca": "$CERTS/ca.pem",
                       "revocation_poll_ms": 1000},
              "second": {"kind": "mesh", "url": "$ISSUER2_URL", "ca": "$CERTS/ca.pem",
                         "revocation_feed": false}},
  "routes": [
    {"name": "assets", "prefix": "/assets/", "audience": "gateway", "scopes": ["assets:read"],
     "binding": "required", "issuers": ["mesh"]},
    {"name": "multi", "prefix": "/multi/", "audience": "gateway"},
    {"name": "ci", "prefix": "/ci/", "audience": "gateway",
     "binding": {"unbound-for": ["svc-token:ci"]}, "issuers": ["mesh"]},
    {"name": "svc", "prefix": "/svc/", "audience": "gateway", "binding": "when-presented",
     "issuers": ["mesh"]}
  ]
}
JSON
authz_up "$T/authz.json"
TCP=$(jq -r '.listen[1]' "$T/authz.ready")
TLS=$(jq -r '.listen[2]' "$T/authz.ready")
check "--check-config: one verifier for the issuer with the loosest policy, when-presented" \
    eval '"$AUTHZ" --check-config --config "$T/authz.json" | grep -q "binding policy \"when-presented\""'
check "... and the second issuer's verifier takes only what its routes need: required" \
    eval '"$AUTHZ" --check-config --json --config "$T/authz.json" |
          jq -e ".issuers[1].binding == \"required\" and .issuers[0].binding == \"when-presented\"" >/dev/null'

tok=$(token_for web-service gateway)
svc=$(MESH_CLIENT_ID=$ci_id MESH_CLIENT_SECRET=$ci_secret TLS_CA_PATH=$CERTS/ca.pem \
    "$S/examples/ci-token.sh" --print-token --curl)
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read(), safe=""))'; }
leaf_pem() { openssl x509 -in "$CERTS/$1/cert.pem"; } # the first certificate of the chain file
b64body() { grep -v -- ----- | tr -d '\n'; }

web_cert=$(leaf_pem web-service | enc)
chat_cert=$(leaf_pem chat-service | enc)
web_chain=$(enc <"$CERTS/web-service/cert.pem")
web_hash=$(leaf_pem web-service | openssl x509 -outform DER | sha256sum | cut -d' ' -f1)

# ask PATH TOKEN [curl args...]: one request to mesh-authz; sets STATUS, HDRS
ask() {
    local path=$1 t=$2 cfg=
    shift 2
    [[ -n $t ]] && cfg="header = \"Authorization: Bearer $t\""
    HDRS=$T/last.headers
    STATUS=$(printf '%s\n' "$cfg" | curl -s -K - --unix-socket "$T/authz.sock" -o "$T/body" \
        -D "$HDRS" -w '%{http_code}' "$@" "http://authz$path" || true)
}
hdr() { sed -n "s/^$1: \\(.*\\)\\r$/\\1/Ip" "$HDRS"; }

# ---- Envoy ext_authz: path_prefix /envoy + the original path, original method, XFCC ----
xfcc="By=spiffe://mesh.local/gateway;Hash=$web_hash;Cert=\"$web_cert\";Subject=\"CN=web-service\";URI=spiffe://mesh.local/web-service"
ask /envoy/assets/1 "$tok" -H "x-forwarded-client-cert: $xfcc"
check "Envoy XFCC with Hash, Cert, Subject, URI: 200 and the identity headers" \
    eval '[[ $STATUS == 200 && $(hdr X-Mesh-Subject) == spiffe://mesh.local/web-service &&
             $(hdr X-Mesh-Bound) == true && $(hdr X-Mesh-Audience) == gateway &&
             -n $(hdr X-Mesh-Token-Id) && $(hdr X-Mesh-Scopes) == *assets:read* ]]'
chat_hash=$(leaf_pem chat-service | openssl x509 -outform DER | sha256sum | cut -d' ' -f1)
ask /envoy/assets/1 "$tok" -H "x-forwarded-client-cert: By=spiffe://mesh.local/gateway;Hash=$chat_hash;Cert=\"$web_cert\""
check "XFCC whose Hash is another certificate's than its Cert: 401 xfcc_hash_mismatch" \
    eval '[[ $STATUS == 401 ]] && grep -q "\"reason\":\"xfcc_hash_mismatch\"" "$T/body"'
ask /envoy/assets/1 "$tok" -X DELETE -H "x-forwarded-client-cert: By=x;Chain=\"$web_chain\""
check "Envoy XFCC Chain= (leaf and intermediate), original method DELETE: 200" \
    eval '[[ $STATUS == 200 ]]'
ask /envoy/assets/1 "$tok" -H "x-forwarded-client-cert: Cert=\"$web_cert\",By=spiffe://mesh.local/gateway;Cert=\"$chat_cert\""
check "XFCC with two elements: the last (the nearest proxy's) is used: chat-service's: 401" \
    eval '[[ $STATUS == 401 ]]'
ask /envoy/assets/1 "$tok" -H "x-forwarded-client-cert: Cert=\"$chat_cert\",Cert=\"$web_cert\""
check "... and with web-service's element last: 200" eval '[[ $STATUS == 200 ]]'
ask /envoy/assets/1 "$tok" -H "x-forwarded-client-cert: By=spiffe://mesh.local/gateway;Hash=$web_hash"
check "XFCC with Hash only: 401 xfcc_no_cert (a hash cannot be checked against the bundle)" \
    eval '[[ $STATUS == 401 ]] && grep -q xfcc_no_cert "$T/body"'
for bad in 'Cert="%2D%2D' 'Cert="unterminated' 'Cert' ';;' 'Cert=a;' 'Cert="a"junk' \
    'Cert=a,' 'Cert=%ZZ' 'Cert="x";Cert="y"'; do
    ask /envoy/assets/1 "$tok" -H "x-forwarded-client-cert: $bad"
    check "malformed XFCC '$bad': 401 with a reason" \
        eval '[[ $STATUS == 401 ]] && grep -q "\"reason\":\"\(xfcc_malformed\|cert_header_malformed\)\"" "$T/body"'
done
many=$(printf 'By=a,%.0s' $(seq 1 20))Cert=\"$web_cert\"
ask /envoy/assets/1 "$tok" -H "x-forwarded-client-cert: $many"
check "XFCC with more than MESH_AUTHZ_MAX_XFCC_ELEMENTS elements: 401" eval '[[ $STATUS == 401 ]]'
big=$(head -c 17000 /dev/zero | tr '\0' A)
ask /envoy/assets/1 "$tok" -H "x-forwarded-client-cert: Cert=\"$big\""
check "XFCC over MESH_AUTHZ_MAX_CERT_HEADER: 401 cert_header_too_large" \
    eval '[[ $STATUS == 401 ]] && grep -q cert_header_too_large "$T/body"'
huge=$(head -c 40000 /dev/zero | tr '\0' A)
ask /envoy/assets/1 "$tok" -H "x-forwarded-client-cert: $huge"
check "headers over MESH_AUTHZ_MAX_HEADER_BYTES: refused by the HTTP layer, never allowed" \
    eval '[[ $STATUS != 200 ]]'
ask /envoy/assets/1 "$tok" -H "x-forwarded-client-cert: $xfcc"
check "... and mesh-authz still answers afterwards" eval '[[ $STATUS == 200 ]]'

# ---- Traefik forwardAuth + passTLSClientCert (pem: true) ----
t_leaf=$(leaf_pem web-service | b64body)
t_inter=$(b64body <"$CERTS/intermediate.pem")
fwd=(-H "X-Forwarded-Method: GET" -H "X-Forwarded-Uri: /assets/7?x=1" -H "X-Forwarded-Host: api.example")
ask /forward "$tok" "${fwd[@]}" -H "X-Forwarded-Tls-Client-Cert: $t_leaf,$t_inter"
check "Traefik v3 X-Forwarded-Tls-Client-Cert (base64 DER bodies, ','-separated): 200" \
    eval '[[ $STATUS == 200 && $(hdr X-Mesh-Subject) == spiffe://mesh.local/web-service ]]'
escaped=$(printf '%s' "$t_leaf,$t_inter" | enc)
ask /forward "$tok" "${fwd[@]}" -H "X-Forwarded-Tls-Client-Cert: $escaped"
check "Traefik v2 (the same, URL-escaped): 200" eval '[[ $STATUS == 200 ]]'
ask /forward "$tok" "${fwd[@]}" -H "X-Forwarded-Tls-Client-Cert: $(leaf_pem chat-service | b64body)"
check "Traefik with another caller's certificate: 401" eval '[[ $STATUS == 401 ]]'
for bad in 'not base64!' 'AAAA,,AAAA' 'AAA' "$t_leaf,$t_leaf,$t_leaf,$t_leaf,$t_leaf"; do
    ask /forward "$tok" "${fwd[@]}" -H "X-Forwarded-Tls-Client-Cert: $bad"
    check "malformed Traefik certificate header '${bad:0:12}': 401, never a crash" \
        eval '[[ $STATUS == 401 ]]'
done
ask /forward "$tok" -H "X-Forwarded-Uri: /assets/7" -H "X-Forwarded-Method: GET" \
    -H "X-Forwarded-Method: POST"
check "a repeated X-Forwarded-Method: 401 header_repeated" \
    eval '[[ $STATUS == 401 ]] && grep -q header_repeated "$T/body"'
ask /forward "$tok"
check "forward auth without X-Forwarded-Uri: refused (the proxy is misconfigured)" \
    eval '[[ $STATUS == 400 ]]'

# ---- a route that takes tokens of two issuers: the token's iss picks the verifier ----
tok_b=$(MESH_ISSUER_URL=$ISSUER2_URL token_for web-service gateway)
ask /envoy/multi/x "$tok_b" -H "x-forwarded-client-cert: $xfcc"
check "a route with two issuers takes the second issuer's token: 200" \
    eval '[[ $STATUS == 200 && $(hdr X-Mesh-Subject) == spiffe://mesh.local/web-service ]]'
ask /envoy/multi/x "$tok" -H "x-forwarded-client-cert: $xfcc"
check "... and the first issuer's: 200" eval '[[ $STATUS == 200 ]]'
ask /envoy/assets/1 "$tok_b" -H "x-forwarded-client-cert: $xfcc"
check "the second issuer's token on a route of the first issuer only: 401" \
    eval '[[ $STATUS == 401 ]] && grep -q issuer "$T/body"'
ask /envoy/multi/x "not.a-token" -H "x-forwarded-client-cert: $xfcc"
check "a token whose iss cannot be read, on a two-issuer route: 401 token_malformed" \
    eval '[[ $STATUS == 401 ]] && grep -q malformed "$T/body"'

# ---- one verifier, the route's own binding rule ----
ask /envoy/assets/1 "$svc"
check "an unbound service token on a binding \"required\" route: 401 (route check)" \
    eval '[[ $STATUS == 401 ]] && grep -q "\"reason\":\"cnf_missing\"" "$T/body"'
ask /envoy/ci/deploy "$svc"
check "... on the route unbound-for svc-token:ci: 200, X-Mesh-Bound false" \
    eval '[[ $STATUS == 200 && $(hdr X-Mesh-Bound) == false && $(hdr X-Mesh-Subject) == svc-token:ci ]]'
ask /envoy/svc/x "$svc"
check "... on a when-presented route: 200" eval '[[ $STATUS == 200 ]]'
ask /envoy/svc/x "$tok"
check "a bound token on a when-presented route without its certificate: 401" \
    eval '[[ $STATUS == 401 ]]'

# ---- the loopback TCP listener, and paths that are not what a proxy would route ----
STATUS=$(printf 'header = "Authorization: Bearer %s"\n' "$tok" | curl -s -K - -o /dev/null \
    -w '%{http_code}' -H "x-forwarded-client-cert: $xfcc" "http://$TCP/envoy/assets/1" || true)
check "the loopback TCP listener answers the same: 200" eval '[[ $STATUS == 200 ]]'
for p in /envoy/assets/../admin /envoy/assets//1 /envoy/assets/%2e%2e/x /envoy/assets/./1; do
    ask "$p" "$tok" --path-as-is -H "x-forwarded-client-cert: $xfcc"
    check "non-canonical path $p: 403 path_not_canonical" \
        eval '[[ $STATUS == 403 ]] && grep -q path_not_canonical "$T/body"'
done
# ---- the TLS listener: only the allowed proxy's own certificate may ask ----
tls_ask() { # service (the proxy's certificate) or -
    local c=()
    [[ $1 != - ]] && c=(--cert "$CERTS/$1/cert.pem" --key "$CERTS/$1/key.pem")
    printf 'header = "Authorization: Bearer %s"\n' "$tok" | curl -s -K - -o "$T/body" \
        -w '%{http_code}' --cacert "$CERTS/ca.pem" "${c[@]}" \
        -H "x-forwarded-client-cert: $xfcc" "https://$TLS/envoy/assets/1" || true
}
check "TLS listener, the proxy presents an allowed SPIFFE ID (gateway): 200" \
    eval '[[ $(tls_ask gateway) == 200 ]]'
check "TLS listener, a mesh certificate that is not an allowed proxy: 403 proxy_not_allowed" \
    eval '[[ $(tls_ask web-service) == 403 ]] && grep -q proxy_not_allowed "$T/body"'
check "TLS listener without a proxy certificate: no answer at all" \
    eval '[[ $(tls_ask -) == 000 ]]'

ask /somewhere "$tok"
check "an unknown front end path: 404" eval '[[ $STATUS == 404 ]]'

# ---- an issuer that is down: no keys, so 503 + Retry-After, never a guess ----
sed -e "s|$ISSUER_URL|https://127.0.0.1:1|" -e "s|$T/authz.sock|$T/nokeys.sock|" \
    -e 's|{"tcp": "127.0.0.1:0"},||' "$T/authz.json" | python3 -c '
import json, sys
c = json.load(sys.stdin)
c["listen"] = [c["listen"][0]]
print(json.dumps(c))' >"$T/nokeys.json"
spawn nokeys "$AUTHZ" --config "$T/nokeys.json" --ready-file "$T/nokeys.ready"
NOKEYS_PID=$LAST_PID
check "mesh-authz starts even when its issuer is down" eventually 60 test -s "$T/nokeys.ready"
STATUS=$(printf 'header = "Authorization: Bearer %s"\n' "$tok" | curl -s -K - -D "$T/h" \
    -o "$T/body" -w '%{http_code}' --unix-socket "$T/nokeys.sock" \
    -H "x-forwarded-client-cert: $xfcc" http://authz/envoy/assets/1 || true)
check "... and answers 503 with Retry-After while it has no keys" \
    eval '[[ $STATUS == 503 ]] && grep -qi "^Retry-After:" "$T/h" && grep -q keys "$T/body"'
stop_pid "$NOKEYS_PID"

kill -TERM "$AUTHZ_PID"
rc=0
wait "$AUTHZ_PID" || rc=$?
check "SIGTERM: exit 0" eval '[[ $rc == 0 ]]'
