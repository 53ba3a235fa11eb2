#!/usr/bin/env bash
# mesh-authz with an external identity provider, behind real nginx: panva's oidc-provider
# (tests/idp/provider.mjs, installed by ./dev deps) for user tokens, a real mesh-ca and
# mesh-issuer for service tokens, legacy API keys, a rate-limited and a single-use route.
# A user route takes the user token and passes its mapped claims; a mesh token there is
# refused, and a user token on a service route; requires_all needs both; a flood of unknown
# kids costs at most one JWKS fetch; with the provider stopped the cached keys still verify,
# and a verifier whose keys are past their stale limit fails closed (503).
. "$(dirname "$0")/lib.sh"

NGINX=$(command -v nginx || true)
[[ -n $NGINX ]] || NGINX=/usr/sbin/nginx
IDP_DIR=$S/tests/idp
# A skip would hide a broken CI: each piece missing is a failure naming it (./dev deps
# installs nginx, node and the pinned oidc-provider).
missing=
[[ -x $NGINX ]] || missing="nginx is not installed"
command -v node >/dev/null || missing="${missing:+$missing, }node is not installed"
[[ -f $IDP_DIR/node_modules/oidc-provider/package.json ]] ||
    missing="${missing:+$missing, }oidc-provider is not installed in tests/idp/node_modules"
if [[ -n $missing ]]; then
    not_ok "$missing: run ./dev deps"
    exit 1
fi

mesh_certs
issuer_up
cat "$CERTS/ca.pem" "$CERTS/intermediate.pem" >"$T/bundle.pem"

# ---- the OpenID provider: a CA of its own, HTTPS on a port it picks ----
(
    cd "$T"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout idp-ca.key \
        -out idp-ca.pem -subj /CN=idp-test-ca -days 1 \
        -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout idp.key \
        -out idp.csr -subj /CN=127.0.0.1
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:false\n' \
        >idp.ext
    openssl x509 -req -in idp.csr -CA idp-ca.pem -CAkey idp-ca.key -CAcreateserial -out idp.pem \
        -days 1 -extfile idp.ext
) >"$T/openssl.out" 2>&1
spawn idp node "$IDP_DIR/provider.mjs" "$T/idp.pem" "$T/idp.key" "$T/idp.ready"
IDP_PID=$LAST_PID
eventually "$START_TIMEOUT" test -s "$T/idp.ready"
IDP=$(jq -er .issuer "$T/idp.ready")
check "oidc-provider is up at $IDP" test -n "$IDP"

user_token() { # resource: an access token from the provider's token endpoint
    curl -sS --fail-with-body --cacert "$T/idp-ca.pem" \
        -u svc-client:svc-client-secret-for-tests-only -d grant_type=client_credentials \
        --data-urlencode "resource=$1" --data-urlencode scope=read "$IDP/token" |
        jq -er .access_token
}

# ---- a legacy API key, hashed by mesh-authz hash-key (the key on stdin) ----
API_KEY=$(openssl rand -hex 32)
KEY_ENTRY=$(printf '%s\n' "$API_KEY" | "$AUTHZ" hash-key --name ci-legacy --expires 2099-12-31)
check "hash-key prints the entry, with the hash and without the key" \
    eval '[[ $(jq -r .hash <<<"$KEY_ENTRY") == sha256:$(printf %s "$API_KEY" | sha256sum | cut -c1-64) &&
             $KEY_ENTRY != *"$API_KEY"* ]]'

# ---- a legacy HS256 project (as a Supabase project's JWT secret): a 0600 key file ----
HS_ISS=https://legacy-project.test/auth/v1
HS_SECRET=$(openssl rand -hex 32)
(umask 077 && printf '%s' "$HS_SECRET" >"$T/hs.key")

write_config() { # file, socket, legacy keys enabled (true|false), idp jwks_cache JSON
    cat >"$1" <<JSON
{
  "listen": [{"unix": "$2", "mode": "0660", "group": "$(id -gn)"}],
  "metrics": "127.0.0.1:0",
  "log": {"decisions": "$T/decisions.log"},
  "trust": {"bundle": "$T/bundle.pem"},
  "issuers": {
    "mesh": {"kind": "mesh", "url": "$ISSUER_URL", "ca": "$CERTS/ca.pem",
             "cert": "$CERTS/gateway/cert.pem", "key": "$CERTS/gateway/key.pem",
             "issuer_id": "spiffe://mesh.local/issuer"},
    "idp": {"kind": "oidc", "url": "$IDP", "discovery": true, "ca": "$T/idp-ca.pem",
            "audiences": ["profile-service"], "algorithms": ["RS256", "ES256"],
            "required_claims": ["email"], "max_lifetime": 3600,
            "claims_to_headers": {"email": "X-Mesh-User-Email"},
            "jwks_cache": $4},
    "idp-cf": {"kind": "oidc", "url": "$IDP", "discovery": true, "ca": "$T/idp-ca.pem",
               "audiences": ["profile-service"], "token_header": "Cf-Access-Jwt-Assertion",
               "claims_to_headers": {"email": "X-Mesh-User-Email"}},
    "legacy": {"kind": "api-keys", "enabled": $3, "keys": [$KEY_ENTRY]},
    "hs": {"kind": "oidc", "url": "$HS_ISS", "hmac_key_file": "$T/hs.key",
           "audiences": ["authenticated"], "typ": ["JWT"],
           "claims_to_headers": {"email": "X-Mesh-User-Email"}}
  },
  "routes": [
    {"name": "user", "prefix": "/user/", "issuers": ["idp"], "scopes": ["read"]},
    {"name": "svc", "prefix": "/svc/", "audience": "gateway", "issuers": ["mesh"]},
    {"name": "both", "prefix": "/both/", "audience": "gateway",
     "requires_all": ["mesh", "idp-cf"]},
    {"name": "limited", "prefix": "/limited/", "audience": "gateway", "issuers": ["mesh"],
     "rate_limit": {"per_subject": {"spiffe://mesh.local/web-service": "3/h", "*": "100/h"}}},
    {"name": "once", "prefix": "/once/", "audience": "gateway", "issuers": ["mesh"],
     "single_use": true},
    {"name": "legacy", "prefix": "/legacy/", "audience": "gateway", "issuers": ["legacy", "mesh"]},
    {"name": "hs", "prefix": "/hs/", "issuers": ["hs"]}
  ]
}
JSON
}
LONG_CACHE='{"max_age_min": 3600, "max_age_max": 3600, "cooldown_ms": 600000}'
write_config "$T/authz.json" "$T/authz.sock" true "$LONG_CACHE"
check "--check-config accepts the OIDC, API key, rate-limit and single-use config" \
    eval '"$AUTHZ" --check-config --config "$T/authz.json" >"$T/check.out" 2>&1'
authz_up "$T/authz.json"
check "mesh-authz is up (the provider's discovery and keys fetched)" test -S "$T/authz.sock"

# ---- nginx in front, the example site block as shipped ----
mkdir -p "$T/nginx/tmp"
user_line=
[[ $(id -u) == 0 ]] && user_line="user $(id -un) $(id -gn);"
nginx_conf() { # port
    cat >"$T/nginx/nginx.conf" <<NGINX
$user_line
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log info;
events { worker_connections 64; }
http {
    access_log $T/nginx/access.log;
    client_body_temp_path $T/nginx/tmp/body;
    proxy_temp_path $T/nginx/tmp/proxy;
    fastcgi_temp_path $T/nginx/tmp/fastcgi;
    uwsgi_temp_path $T/nginx/tmp/uwsgi;
    scgi_temp_path $T/nginx/tmp/scgi;
    $(sed -e "s|@AUTHZ_SOCK@|$T/authz.sock|" -e "s|@UPSTREAM@|unix:$T/upstream.sock|" \
        -e "s|@LISTEN@|127.0.0.1:$1|" -e "s|@CERTS@|$CERTS|g" \
        "$S/examples/authz/nginx-site.conf")
    server {
        listen unix:$T/upstream.sock;
        location / {
            default_type text/plain;
            return 200 "subject=[\$http_x_mesh_subject] email=[\$http_x_mesh_user_email] client=[\$http_x_mesh_client_id]\n";
        }
    }
}
NGINX
}
NGINX_PORT=
for attempt in 1 2 3 4 5; do
    port=$(free_port)
    nginx_conf "$port"
    "$NGINX" -t -p "$T/nginx" -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf" \
        >"$T/nginx-t.log" 2>&1 || { cat "$T/nginx-t.log"; exit 1; }
    spawn nginx "$NGINX" -p "$T/nginx" -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf" \
        -g 'daemon off;'
    NGINX_PID=$LAST_PID
    if eventually 20 port_in_use "$port"; then
        NGINX_PORT=$port
        break
    fi
    stop_pid "$NGINX_PID"
done
check "nginx started with auth_request to mesh-authz" test -n "$NGINX_PORT"
URL=https://127.0.0.1:$NGINX_PORT

req() { # svc|-, path, curl args (headers) ...: sets STATUS, BODY, HDRS
    local svc=$1 path=$2 cert=()
    shift 2
    [[ $svc != - ]] && cert=(--cert "$CERTS/$svc/cert.pem" --key "$CERTS/$svc/key.pem")
    HDRS=$T/last.headers
    BODY=$(curl -s --cacert "$CERTS/ca.pem" "${cert[@]}" -D "$HDRS" -w '\n%{http_code}' \
        "$@" "$URL$path" || true)
    STATUS=${BODY##*$'\n'}
    BODY=${BODY%$'\n'*}
}
metric() { # name with labels: its value (0 when absent)
    curl -s "http://$METRICS/metrics" | awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }'
}

# Secrets go to curl in a config on stdin, not on its command line.
hdr() { printf 'header = "%s"\n' "$1"; }

utok=$(user_token https://profile.test/)
utok2=$(user_token https://profile.test/)
utok3=$(user_token https://profile.test/)
stok=$(token_for web-service gateway)

# ---- user route: the IdP's token, its claims as headers ----
req - /user/me -K - < <(hdr "Authorization: Bearer $utok")
check "a user token from oidc-provider on the user route: 200" test "$STATUS" = 200
check "... the upstream gets X-Mesh-Subject (sub) and the mapped email claim" \
    eval '[[ $BODY == *"subject=[svc-client]"* && $BODY == *"email=[ana@example.com]"* ]]'
req - /user/me -H "X-Mesh-User-Email: mallory@example.com" -K - < <(hdr "Authorization: Bearer $utok")
check "... a client-sent X-Mesh-User-Email never reaches the upstream" \
    eval '[[ $STATUS == 200 && $BODY != *mallory* ]]'
req web-service /user/me -K - < <(hdr "Authorization: Bearer $stok")
check "a mesh service token on the user-only route: 401" \
    eval '[[ $STATUS == 401 ]] && grep -qi "error=\"invalid_token\"" "$HDRS"'
req web-service /svc/x -K - < <(hdr "Authorization: Bearer $utok")
check "a user token on the service-only route: 401" test "$STATUS" = 401
req web-service /svc/x -K - < <(hdr "Authorization: Bearer $stok")
check "... and the service token there: 200" \
    eval '[[ $STATUS == 200 && $BODY == *"subject=[spiffe://mesh.local/web-service]"* ]]'
atok=$(user_token https://asset.test/)
req - /user/me -K - < <(hdr "Authorization: Bearer $atok")
check "a token of the same IdP for another audience: 401" test "$STATUS" = 401

# ---- requires_all: a service token AND a user token (Cf-Access-Jwt-Assertion, raw) ----
req web-service /both/x -K - < <(hdr "Authorization: Bearer $stok")
check "requires_all with the service token only: 401" test "$STATUS" = 401
req - /both/x -K - < <(hdr "Cf-Access-Jwt-Assertion: $utok")
check "requires_all with the user token only: 401" test "$STATUS" = 401
req web-service /both/x -K - < <(hdr "Authorization: Bearer $stok"; hdr "Cf-Access-Jwt-Assertion: $utok")
check "requires_all with both: 200, service subject and the user's email upstream" \
    eval '[[ $STATUS == 200 && $BODY == *"subject=[spiffe://mesh.local/web-service]"* &&
             $BODY == *"email=[ana@example.com]"* ]]'

# ---- rate limit: 3/h for web-service, 429 with Retry-After through nginx ----
codes=
for i in 1 2 3 4; do
    req web-service /limited/x -K - < <(hdr "Authorization: Bearer $stok")
    codes+="$STATUS "
done
check "per-subject 3/h: three pass, the fourth is 429 through nginx (codes: $codes)" \
    test "$codes" = "200 200 200 429 "
check "... with a Retry-After of a positive number of seconds and reason rate_limited" \
    eval 'grep -qiE "^Retry-After: [1-9][0-9]*" "$HDRS" && [[ $BODY == *rate_limited* ]]'
ctok=$(token_for chat-service gateway)
req chat-service /limited/x -K - < <(hdr "Authorization: Bearer $ctok")
check "... another subject has its own count (\"*\": 100/h): 200" test "$STATUS" = 200
check "mesh_authz_rate_limited_total counts the refusal" \
    eval '(( $(metric mesh_authz_rate_limited_total) == 1 ))'

# ---- single use ----
otok=$(token_for web-service gateway)
req web-service /once/x -K - < <(hdr "Authorization: Bearer $otok")
first=$STATUS
req web-service /once/x -K - < <(hdr "Authorization: Bearer $otok")
check "a single-use route: the token passes once (200), the second time 401 token_replayed" \
    eval '[[ $first == 200 && $STATUS == 401 ]] && grep -q "token_replayed" "$HDRS"'
check "mesh_authz_replays_refused_total counts it" \
    eval '(( $(metric mesh_authz_replays_refused_total) == 1 ))'

# ---- legacy API keys: counted by name, logged by name, refused after the switch ----
req - /legacy/x -K - < <(hdr "X-Api-Key: $API_KEY")
check "a legacy API key: 200, X-Mesh-Subject api-key:ci-legacy upstream" \
    eval '[[ $STATUS == 200 && $BODY == *"subject=[api-key:ci-legacy]"* ]]'
req - /legacy/x -H "X-Api-Key: $(openssl rand -hex 32)"
check "an unknown key: 401" test "$STATUS" = 401
req web-service /legacy/x -K - < <(hdr "Authorization: Bearer $stok")
check "... the same route still takes service tokens: 200" test "$STATUS" = 200
check "mesh_authz_legacy_key_uses_total counts the use by key name" \
    eval '(( $(metric "mesh_authz_legacy_key_uses_total{issuer=\"legacy\",key=\"ci-legacy\",result=\"ok\"}") == 1 ))'
check "the decision log names the key, never holds it (nor a token)" \
    eval 'grep -q "\"api_key\":\"ci-legacy\"" "$T/decisions.log" &&
          ! grep -qF "$API_KEY" "$T/decisions.log" && ! grep -qF "$utok" "$T/decisions.log"'
write_config "$T/authz.json" "$T/authz.sock" false "$LONG_CACHE"
kill -HUP "$AUTHZ_PID"
refused_now() {
    req - /legacy/x -K - < <(hdr "X-Api-Key: $API_KEY")
    [[ $STATUS == 401 ]] && grep -q legacy_key_refused "$HDRS" "$T/decisions.log"
}
check "\"enabled\": false and SIGHUP: the key is refused (legacy_key_refused)" \
    eventually 20 refused_now
check "... and counted as refused" \
    eval '(( $(metric "mesh_authz_legacy_key_uses_total{issuer=\"legacy\",key=\"ci-legacy\",result=\"legacy_key_refused\"}") >= 1 ))'

check "mesh_authz_revocation_feed_age_seconds: the mesh issuer's feed was polled (age >= 0)" \
    eval '(( $(metric "mesh_authz_revocation_feed_age_seconds{issuer=\"mesh\"}") >= 0 )) &&
          curl -s "http://$METRICS/metrics" | grep -q "^mesh_authz_revocation_feed_age_seconds{issuer=\"mesh\"} [0-9]"'

# ---- the legacy HS256 issuer: its one key, never a token's choice ----
b64() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
now=$(date +%s)
hs_token() { # alg, secret
    local h p
    h=$(printf '{"alg":"%s","typ":"JWT"}' "$1" | b64)
    p=$(printf '{"iss":"%s","sub":"user-7","aud":"authenticated","email":"bo@example.com","iat":%d,"exp":%d}' \
        "$HS_ISS" "$now" $((now + 600)) | b64)
    printf '%s.%s.%s' "$h" "$p" "$(printf '%s' "$h.$p" | openssl dgst -sha256 -hmac "$2" -binary | b64)"
}
req - /hs/x -K - < <(hdr "Authorization: Bearer $(hs_token HS256 "$HS_SECRET")")
check "a legacy HS256 token MACed with the configured key file: 200, its email passed on" \
    eval '[[ $STATUS == 200 && $BODY == *"subject=[user-7]"* && $BODY == *"email=[bo@example.com]"* ]]'
req - /hs/x -K - < <(hdr "Authorization: Bearer $(hs_token HS256 "$(openssl rand -hex 32)")")
check "... MACed with another key: 401" test "$STATUS" = 401
req - /hs/x -K - < <(hdr "Authorization: Bearer $(hs_token HS512 "$HS_SECRET")")
check "... a token that names another algorithm: 401 (the key fixes HS256)" test "$STATUS" = 401
chmod 644 "$T/hs.key"
check "--check-config refuses the HS256 key file once others may read it" \
    eval '! "$AUTHZ" --check-config --config "$T/authz.json" >"$T/check2.out" 2>&1 &&
          grep -q "hmac_key_file.*0600" "$T/check2.out"'
chmod 600 "$T/hs.key"

# ---- a flood of unknown kids: at most one JWKS fetch ----
before=$(metric 'mesh_authz_jwks_fetches_total{issuer="idp"}')
codes=
for i in $(seq 1 20); do
    h=$(printf '{"alg":"RS256","typ":"at+jwt","kid":"flood-%d-%s"}' "$i" "$RANDOM" | b64)
    p=$(printf '{"iss":"%s","sub":"x","aud":"profile-service","email":"x@y","iat":%d,"exp":%d}' \
        "$IDP" "$now" $((now + 300)) | b64)
    req - /user/me -K - < <(hdr "Authorization: Bearer $h.$p.AAAA")
    codes+="$STATUS"
done
after=$(metric 'mesh_authz_jwks_fetches_total{issuer="idp"}')
check "20 tokens with unknown kids: all 401, at most one JWKS fetch ($before -> $after)" \
    eval '[[ $codes == $(printf "401%.0s" $(seq 1 20)) ]] && (( after - before <= 1 ))'

# ---- the provider goes down ----
B_CACHE='{"max_age_min": 1, "max_age_max": 1, "stale_if_error": 1, "cooldown_ms": 0}'
write_config "$T/short.json" "$T/short.sock" true "$B_CACHE"
MAIN_PID=$AUTHZ_PID MAIN_METRICS=$METRICS
authz_up "$T/short.json"
SHORT_PID=$AUTHZ_PID
METRICS=$MAIN_METRICS
direct() { # socket, token: GET /user/me as nginx asks; prints the status
    printf 'header = "Authorization: Bearer %s"\n' "$2" |
        curl -s -K - -o /dev/null -w '%{http_code}' --unix-socket "$1" \
            -H "X-Original-Method: GET" -H "X-Original-URI: /user/me" http://authz/nginx || true
}
check "a second mesh-authz, keys max-age 1 s, stale-if-error 1 s: 200 while the IdP is up" \
    test "$(direct "$T/short.sock" "$utok")" = 200
stop_pid "$IDP_PID"
check "the provider is stopped" eval '! kill -0 "$IDP_PID" 2>/dev/null'
req - /user/me -K - < <(hdr "Authorization: Bearer $utok2")
check "IdP down: a token never seen before still verifies with the cached keys (200)" \
    test "$STATUS" = 200
short_closed() { [[ $(direct "$T/short.sock" "$utok3") == 503 ]]; }
check "IdP down past the stale limit: the short-cache mesh-authz fails closed with 503" \
    eventually 30 short_closed
check "... even for a token it had verified before (its cache does not outlive the keys)" \
    test "$(direct "$T/short.sock" "$utok")" = 503
stop_pid "$SHORT_PID"
AUTHZ_PID=$MAIN_PID
stop_pid "$AUTHZ_PID"
check "SIGTERM: mesh-authz exits and removes its socket" test ! -e "$T/authz.sock"
