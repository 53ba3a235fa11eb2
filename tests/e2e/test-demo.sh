#!/usr/bin/env bash
# The demo's steps as assertions: run examples/demo.sh against this build in a temp dir
# (real nginx in front of asset-service and the FastAPI python-service, mesh-authz deciding,
# mesh-issuer signing certificates online), check its exit status, each row of its table,
# that nginx really sat in the path, and that it left no process behind.
. "$(dirname "$0")/lib.sh"

DEMO=$MESH_SOURCE_ROOT/examples/demo.sh
check "demo.sh --help" quiet "$DEMO" --help
check "ci-token.sh --help" quiet "$MESH_SOURCE_ROOT/examples/ci-token.sh" --help
for b in gateway asset-service caller; do
    check "$b --help" quiet "$B/examples/$b" --help
done

rc=0
"$DEMO" --build-dir "$B" --dir "$T/demo" >"$T/table.txt" 2>"$T/progress.log" || rc=$?
sed 's/^/# /' "$T/table.txt"

row() { grep -E "^$1 " "$T/table.txt" || true; }
passed() { [[ $(row "$1") == *"✓"* ]]; }
check "step 1: web-service -> nginx with cert + token is 200, names web-service" \
    eval 'passed 1 && [[ $(row 1) == *" 200 "*"spiffe://mesh.local/web-service"*nginx* ]]'
check "step 2: no token is 401 with WWW-Authenticate" \
    eval 'passed 2 && [[ $(row 2) == *" 401 "*"WWW-Authenticate: Bearer"* ]]'
check "step 3: token for another audience is 401 invalid_token" \
    eval 'passed 3 && [[ $(row 3) == *" 401 "*invalid_token* ]]'
check "step 4: token replayed with another certificate is 401" \
    eval 'passed 4 && [[ $(row 4) == *" 401 "*cnf* ]]'
check "step 5: missing scope is 403 insufficient_scope" \
    eval 'passed 5 && [[ $(row 5) == *" 403 "*insufficient_scope* ]]'
check "step 6: CI pipeline with a service token is 200" \
    eval 'passed 6 && [[ $(row 6) == *" 200 "*svc-token:ci* ]]'
check "step 7: revoked token is 401 after the feed catches up" \
    eval 'passed 7 && [[ $(row 7) == *" 401 "*token_revoked* ]]'

check "step 8: mesh doctor --service web-service, every check ✓" \
    eval 'passed 8 && [[ $(row 8) == *"exit 0"*"exit 0"* ]]'
check "step 9: a user token of oidc-provider on the user route is 200, a mesh token 401" \
    eval 'passed 9 && [[ $(row 9) == *" 200 "*oidc-provider*svc-client*401* ]]'
check "step 10: the legacy API key is 200, then 401 legacy_key_refused after the switch" \
    eval 'passed 10 && [[ $(row 10) == *" 200/401 "*api-key:ci-legacy*legacy_key_refused* ]]'
check "step 11: a single-use token is 200 once, then 401 token_replayed" \
    eval 'passed 11 && [[ $(row 11) == *" 200/401 "*token_replayed* ]]'
check "step 12: web-service -> the example C gateway is 200" \
    eval 'passed 12 && [[ $(row 12) == *" 200 "*gateway* ]]'
check "step 13: web-service -> nginx -> python-service 200, and its call to asset-service 200" \
    eval 'passed 13 && [[ $(row 13) == *" 200/200 "*"saw spiffe://mesh.local/web-service"*"asset-service: 200, caller spiffe://mesh.local/python-service"* ]]'
check "step 14: web-service renewed online, a new serial, the next requests 200" \
    eval 'passed 14 && [[ $(row 14) == *" 200/200 "*"serial "*" -> "*"issuing CA"* ]]'
check "demo exits 0" test "$rc" = 0
check "the table says all 14 steps behaved" grep -q "all 14 steps behaved as stated" "$T/table.txt"

# Step 13 for real: python-service's certificate came from mesh-issuer's issuing CA with the
# join token (no mesh-ca certificate), the process was Debian's python3 running app.py.
pycert=$T/demo/certs/python-service/cert.pem
check "python-service's certificate: mesh-issuer's issuing CA, SPIFFE ID python-service" \
    eval 'openssl x509 -in "$pycert" -noout -issuer | grep -q "issuing CA" &&
          openssl x509 -in "$pycert" -noout -ext subjectAltName |
              grep -q "URI:spiffe://mesh.local/python-service"'
check "python-service's key is mode 0600" \
    test "$(stat -c %a "$T/demo/certs/python-service/key.pem")" = 600
check "the join token is spent (the issuer's list says used) and in no log" \
    eval '"$ISSUER" join-token list --json --config "$T/demo/issuer.json" |
              jq -e "any(.[]; .service == \"python-service\" and .status == \"used\")" >/dev/null &&
          [[ ! -e $T/demo/python-service.join ]] &&
          ! grep -rq "mjt_" "$T/demo/logs" "$T/table.txt" "$T/progress.log"'
check "nginx's access log: /python/whoami and /python/peer answered 200" \
    eval 'grep -q "\"GET /python/whoami HTTP/[0-9.]*\" 200 " "$T/demo/logs/nginx-access.log" &&
          grep -q "\"GET /python/peer HTTP/[0-9.]*\" 200 " "$T/demo/logs/nginx-access.log"'
check "mesh-authz decided the python route (audience python-service)" \
    grep -q '"route":"python"' "$T/demo/logs/authz-decisions.log"

# Step 14 for real: the pair on disk is the renewed one, signed by the issuing CA, and nginx
# saw the caller present it.
webcert=$T/demo/certs/web-service/cert.pem
new_serial=$(openssl x509 -in "$webcert" -noout -serial | cut -d= -f2)
check "web-service's certificate is now the issuing CA's ($new_serial)" \
    eval 'openssl x509 -in "$webcert" -noout -issuer | grep -q "issuing CA"'
check "nginx logged requests presenting the renewed certificate" \
    grep -q "client_serial=$new_serial" "$T/demo/logs/nginx-access.log"
check "web-service's renewed key is mode 0600" \
    test "$(stat -c %a "$T/demo/certs/web-service/key.pem")" = 600
check "mesh-issuer's inventory: python-service by join token, web-service by renewal" \
    eval '"$ISSUER" cert list --json --config "$T/demo/issuer.json" >"$T/certs.json" &&
          jq -e "any(.[]; .spiffe_id == \"spiffe://mesh.local/python-service\" and
                          .auth_method == \"join_token\")" "$T/certs.json" >/dev/null &&
          jq -e "any(.[]; .spiffe_id == \"spiffe://mesh.local/web-service\" and
                          .auth_method == \"renewal\")" "$T/certs.json" >/dev/null'

# The requests of steps 1-7 really went through nginx and mesh-authz: nginx's access log has
# them with their statuses, mesh-authz's decision log its allow and deny lines.
access=$T/demo/logs/nginx-access.log
decisions=$T/demo/logs/authz-decisions.log
check "nginx's access log: GET /assets/42 answered 200, 401 and 403 (POST /assets)" \
    eval 'grep -q "\"GET /assets/42 HTTP/[0-9.]*\" 200 " "$access" &&
          grep -q "\"GET /assets/42 HTTP/[0-9.]*\" 401 " "$access" &&
          grep -q "\"POST /assets HTTP/[0-9.]*\" 403 " "$access"'
check "nginx's access log: POST /ci/deploy answered 200 (the CI pipeline)" \
    grep -q '"POST /ci/deploy HTTP/[0-9.]*" 200 ' "$access"
check "mesh-authz's decision log: cnf_mismatch, insufficient_scope and token_revoked" \
    eval 'grep -q "\"reason\":\"cnf_mismatch\"" "$decisions" &&
          grep -q "\"reason\":\"insufficient_scope\"" "$decisions" &&
          grep -q "\"reason\":\"token_revoked\"" "$decisions"'
check "no token in mesh-authz's decision log" \
    eval '! grep -qE "eyJ[A-Za-z0-9_-]{10,}\.eyJ" "$decisions"'
check "the legacy API key is in no log (the decision log names it ci-legacy)" \
    eval 'grep -q "\"api_key\":\"ci-legacy\"" "$decisions" &&
          ! grep -rqF "$(<"$T/demo/legacy-api.key")" "$T/demo/logs" "$T/table.txt" "$T/progress.log"'
check "the legacy API key file is mode 0600" test "$(stat -c %a "$T/demo/legacy-api.key")" = 600

alive=0
while read -r pid name; do
    if kill -0 "$pid" 2>/dev/null; then
        log "still running after the demo: $name ($pid)"
        alive=1
    fi
done <"$T/demo/demo.pids.stopped"
check "the demo stopped every process it started" test "$alive" = 0

# The services' logs of this run (ASan/UBSan reports land there at exit), before mesh_up
# below recreates the demo directory.
no_sanitizer_report() {
    ! grep -lE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$T"/demo/logs/*.log
}
check "no sanitizer report in the logs of the demo's services" no_sanitizer_report

# ---- asset-service's trust in nginx (the mesh left running: demo.sh --setup-only) ----
mesh_up
# direct SERVICE PATH [curl args...]: a call straight to asset-service, no token; sets BODY
# (the answer, then its status on the last line)
direct() {
    local svc=$1 path=$2
    shift 2
    BODY=$(curl -s --cacert "$MESH_CERTS_DIR/ca.pem" --cert "$MESH_CERTS_DIR/$svc/cert.pem" \
        --key "$MESH_CERTS_DIR/$svc/key.pem" -w '\n%{http_code}' "$@" "$ASSETS_URL$path" || true)
}
status() { printf '%s' "${BODY##*$'\n'}"; }
direct web-service /assets/1 -H "X-Mesh-Subject: spiffe://mesh.local/admin"
check "asset-service: X-Mesh-Subject from web-service's certificate, no token: 401, not believed" \
    eval '[[ $(status) == 401 && $BODY != *admin* ]]'
direct gateway /assets/1 -H "X-Mesh-Subject: spiffe://mesh.local/someone" \
    -H "X-Mesh-Scopes: assets:read"
check "asset-service: the same headers from the forwarder's certificate (nginx's): believed" \
    eval '[[ $(status) == 200 && $BODY == *"\"caller\":\"spiffe://mesh.local/someone\""* &&
             $BODY == *"\"via\":\"spiffe://mesh.local/gateway\""* ]]'
direct gateway /assets/1
check "asset-service: the forwarder's certificate with no X-Mesh-Subject: 401" \
    eval '[[ $(status) == 401 ]]'

tok=$(token_for web-service gateway)
BODY=$(printf 'header = "Authorization: Bearer %s"\n' "$tok" |
    curl -s -K - --cacert "$MESH_CERTS_DIR/ca.pem" --cert "$MESH_CERTS_DIR/web-service/cert.pem" \
        --key "$MESH_CERTS_DIR/web-service/key.pem" -H "X-Mesh-Subject: spiffe://mesh.local/admin" \
        -H "X-Mesh-Scopes: assets:write" -w '\n%{http_code}' "$NGINX_URL/assets/1" || true)
check "through nginx: a client-sent X-Mesh-Subject/-Scopes is replaced by mesh-authz's" \
    eval '[[ $(status) == 200 && $BODY != *admin* && $BODY != *assets:write* &&
             $BODY == *"\"caller\":\"spiffe://mesh.local/web-service\""* ]]'

# python-service believes X-Mesh-* only from nginx's upstream address (127.0.0.2): the same
# headers from 127.0.0.1, even with a mesh certificate, are not believed.
pydirect() { # curl args...: a call straight to python-service as web-service; sets BODY
    BODY=$(curl -s --cacert "$MESH_CERTS_DIR/ca.pem" --cert "$MESH_CERTS_DIR/web-service/cert.pem" \
        --key "$MESH_CERTS_DIR/web-service/key.pem" -w '\n%{http_code}' "$@" || true)
}
pydirect -H "X-Mesh-Subject: spiffe://mesh.local/admin" -H "X-Mesh-Audience: python-service" \
    "$PYTHON_SERVICE_URL/whoami"
check "python-service: X-Mesh-Subject from 127.0.0.1 without a token: 401, not believed" \
    eval '[[ $(status) == 401 && $BODY != *admin* ]]'
ptok=$(token_for web-service python-service)
BODY=$(printf 'header = "Authorization: Bearer %s"\n' "$ptok" |
    curl -s -K - --cacert "$MESH_CERTS_DIR/ca.pem" --cert "$MESH_CERTS_DIR/web-service/cert.pem" \
        --key "$MESH_CERTS_DIR/web-service/key.pem" -H "X-Mesh-Subject: spiffe://mesh.local/admin" \
        -w '\n%{http_code}' "$PYTHON_SERVICE_URL/whoami" || true)
check "python-service: its own token and a forged X-Mesh-Subject: the token's subject wins" \
    eval '[[ $(status) == 200 && $BODY != *admin* &&
             $BODY == *"\"subject\":\"spiffe://mesh.local/web-service\""* ]]'
BODY=$(printf 'header = "Authorization: Bearer %s"\n' "$ptok" |
    curl -s -K - --cacert "$MESH_CERTS_DIR/ca.pem" --cert "$MESH_CERTS_DIR/web-service/cert.pem" \
        --key "$MESH_CERTS_DIR/web-service/key.pem" -H "X-Mesh-Subject: spiffe://mesh.local/admin" \
        -w '\n%{http_code}' "$NGINX_URL/python/whoami" || true)
check "through nginx (from 127.0.0.2): mesh-authz's X-Mesh-Subject, not the client's" \
    eval '[[ $(status) == 200 && $BODY != *admin* &&
             $BODY == *"\"subject\":\"spiffe://mesh.local/web-service\""* ]]'
