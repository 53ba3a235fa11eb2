#!/usr/bin/env bash
# The example gateway's edges: identity headers a client sends never reach the backend, two
# credentials are a 400, unroutable paths a JSON 404, tokens without the certificate they
# are bound to a 401 (also on the service-token route), and a gateway that has no keys yet
# answers 503 with Retry-After instead of guessing. One verifier decides binding (policy
# unbound-for:svc-token:ci from routes.h); an unknown --binding policy stops it at start.
. "$(dirname "$0")/lib.sh"

mesh_up
tok=$(token_for web-service)
cert=(--cert "$MESH_CERTS_DIR/web-service/cert.pem" --key "$MESH_CERTS_DIR/web-service/key.pem")
ca=(--cacert "$MESH_CERTS_DIR/ca.pem")

# Headers go through curl's stdin config so the token stays off the command line.
req() { # curl args...; stdin-config lines in $CFG; prints "status body"
    printf '%s' "${CFG:-}" | curl -s -K - "${ca[@]}" -w ' %{http_code}' "$@" || true
}
auth="header = \"Authorization: Bearer $tok\""$'\n'

CFG=$auth$'header = "X-Mesh-Subject: spiffe://mesh.local/admin"\nheader = "X-Mesh-Scope: assets:write"\n'
out=$(req "${cert[@]}" "$GATEWAY_URL/assets/1")
check "a client's X-Mesh-Subject is replaced by the verified subject" \
    eval '[[ $out == *'"'"'"caller":"spiffe://mesh.local/web-service"'"'"'* && $out != *admin* && $out == *" 200" ]]'
check "... and X-Mesh-Scope by the token's scopes" \
    eval '[[ $out == *'"'"'"caller_scope":"assets:read"'"'"'* ]]'

CFG=$auth$auth
out=$(req -D "$T/h" "${cert[@]}" "$GATEWAY_URL/assets/1")
check "two Authorization headers: 400 invalid_request" \
    eval '[[ $out == *" 400" ]] && grep -qi "invalid_request" "$T/h"'

CFG=$auth
for p in /nothing /assets/../admin /assets/%2e%2e/x /assetsX; do
    out=$(req --path-as-is "${cert[@]}" "$GATEWAY_URL$p")
    check "no route for $p: JSON 404" eval '[[ $out == *'"'"'"error":"not_found"'"'"'*" 404" ]]'
done

out=$(req -D "$T/h" "$GATEWAY_URL/assets/1")
check "a bound token without its certificate: 401 invalid_token" \
    eval '[[ $out == *" 401" ]] && grep -qi "error=\"invalid_token\"" "$T/h"'
out=$(req -X POST "$GATEWAY_URL/ci/deploy")
check "a bound token without its certificate on the service-token route: 401" \
    eval '[[ $out == *" 401" ]]'
out=$(req -X POST "${cert[@]}" "$GATEWAY_URL/ci/deploy")
check "web-service on /ci/ lacks ci:deploy: 403" eval '[[ $out == *" 403" ]]'

CFG=
out=$(req "${cert[@]}" "$GATEWAY_URL/healthz")
check "/healthz answers without a token" eval '[[ $out == *" 200" ]]'

# A second gateway whose issuer is not there: no keys, so 503 + Retry-After, never a guess.
spawn gateway-nokeys env MESH_ISSUER_URL=https://127.0.0.1:1 "$GATEWAY" --listen 127.0.0.1:0 \
    --port-file "$T/nokeys.port" --backend "$ASSETS_URL"
check "a gateway starts even when its issuer is down" eventually 60 test -s "$T/nokeys.port"
CFG=$auth
out=$(req -D "$T/h" "${cert[@]}" "https://127.0.0.1:$(cat "$T/nokeys.port")/assets/1")
check "... and answers 503 with Retry-After while it has no keys" \
    eval '[[ $out == *" 503" ]] && grep -qi "^Retry-After:" "$T/h"'

# One verifier, one binding policy (issue 10): a policy the verifier does not know stops the
# gateway at start, naming the option, instead of guessing a weaker one.
rc=0
out=$("$GATEWAY" --listen 127.0.0.1:0 --backend "$ASSETS_URL" --binding sometimes 2>&1) || rc=$?
check "--binding with an unknown policy: exit 1, the error names the binding option" \
    eval '[[ $rc == 1 && $out == *binding* ]]'
