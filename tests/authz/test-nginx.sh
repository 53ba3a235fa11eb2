#!/usr/bin/env bash
# mesh-authz behind REAL nginx (Debian's package): nginx terminates mTLS against the mesh CA,
# asks mesh-authz on a unix socket through auth_request, and passes the verified identity to
# an upstream (a second nginx server that echoes the headers it got). A real mesh-ca and
# mesh-issuer make the certificates and tokens.
. "$(dirname "$0")/lib.sh"

NGINX=$(command -v nginx || true)
[[ -n $NGINX ]] || NGINX=/usr/sbin/nginx
if [[ ! -x $NGINX ]]; then
    # A skip would hide a broken CI: the test needs nginx, and ./dev deps installs it.
    not_ok "nginx is not installed: run ./dev deps"
    exit 1
fi

mesh_certs
issuer_up
# nginx forwards the leaf only ($ssl_client_escaped_cert): the bundle holds the intermediate.
cat "$CERTS/ca.pem" "$CERTS/intermediate.pem" >"$T/bundle.pem"

write_authz_config() { # file, extra route JSON (appended to the routes)
    cat >"$1" <<JSON
{
  "listen": [{"unix": "$T/authz.sock", "mode": "0660", "group": "$(id -gn)"}],
  "metrics": "127.0.0.1:0",
  "workers": 2,
  "log": {"decisions": "$T/decisions.log"},
  "trust": {"bundle": "$T/bundle.pem"},
  "issuers": {
    "mesh": {"kind": "mesh", "url": "$ISSUER_URL", "ca": "$CERTS/ca.pem",
             "cert": "$CERTS/gateway/cert.pem", "key": "$CERTS/gateway/key.pem",
             "issuer_id": "spiffe://mesh.local/issuer", "revocation_poll_ms": 500},
    "down": {"kind": "mesh", "url": "https://127.0.0.1:$DOWN_PORT", "ca": "$CERTS/ca.pem",
             "revocation_feed": false}
  },
  "routes": [
    {"name": "health", "prefix": "/healthz", "public": true},
    {"name": "assets", "prefix": "/assets/", "methods": ["GET"], "audience": "gateway",
     "scopes": ["assets:read"]},
    {"name": "admin", "prefix": "/admin/", "audience": "gateway", "scopes": ["assets:write"]},
    {"name": "chat", "prefix": "/chat/", "audience": "chat-service", "scopes": ["chat:read"]},
    {"name": "down", "prefix": "/down/", "audience": "gateway", "issuers": ["down"]}$2
  ]
}
JSON
}
# An issuer that is down: nothing listens on its port (mesh-authz never gets its keys).
DOWN_PORT=$(free_port)
write_authz_config "$T/authz.json" ""

check "--check-config accepts the config and explains the routes" \
    eval '"$AUTHZ" --check-config --config "$T/authz.json" >"$T/check.out" &&
          grep -q "assets: any host, path /assets/\*, GET" "$T/check.out" &&
          grep -q "a request no route matches is refused" "$T/check.out"'
printf '{"listen": [{"unix": "%s/x.sock"}], "routes": [{"prefix": "/", "public": true, "scopes": []}]}' \
    "$T" >"$T/bad.json"
rc=0
out=$("$AUTHZ" --check-config --config "$T/bad.json" 2>&1) || rc=$?
check "--check-config refuses a public route with scopes, exit 1, naming routes[0].scopes" \
    eval '[[ $rc == 1 && $out == *"routes[0].scopes"* ]]'
rc=0
out=$("$AUTHZ" --check-config --json --config "$T/bad.json") || rc=$?
check "--check-config --json says valid: false with the error" \
    eval '[[ $rc == 1 ]] && jq -e ".valid == false and (.error | contains(\"routes[0].scopes\"))" <<<"$out" >/dev/null'

authz_up "$T/authz.json"
check "mesh-authz is up on its unix socket with mode 0660 and the configured group" \
    eval '[[ -S $T/authz.sock && $(stat -c %a "$T/authz.sock") == 660 &&
             $(stat -c %G "$T/authz.sock") == $(id -gn) ]]'

# ---- nginx, unprivileged-ish, from a temp prefix ----
mkdir -p "$T/nginx/tmp"
user_line=
# As root the workers would switch to "nobody", who cannot reach the 0700 temp dir.
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
    # The upstream: echoes what nginx passed it.
    server {
        listen unix:$T/upstream.sock;
        location / {
            default_type text/plain;
            return 200 "subject=[\$http_x_mesh_subject] scopes=[\$http_x_mesh_scopes] bound=[\$http_x_mesh_bound] client_cert=[\$http_x_client_cert]\n";
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

# Requests go through curl's stdin config so tokens stay off the command line.
# req SERVICE|- TOKEN|"" PATH [curl args...]: sets STATUS, BODY, HDRS (response headers file)
req() {
    local svc=$1 tok=$2 path=$3 cert=()
    shift 3
    [[ $svc != - ]] && cert=(--cert "$CERTS/$svc/cert.pem" --key "$CERTS/$svc/key.pem")
    HDRS=$T/last.headers
    local cfg=
    [[ -n $tok ]] && cfg="header = \"Authorization: Bearer $tok\""
    BODY=$(printf '%s\n' "$cfg" | curl -s -K - --path-as-is --cacert "$CERTS/ca.pem" \
        "${cert[@]}" -D "$HDRS" -w '\n%{http_code}' "$@" "$URL$path" || true)
    STATUS=${BODY##*$'\n'}
    BODY=${BODY%$'\n'*}
}

tok=$(token_for web-service gateway)
req web-service "$tok" /assets/1
check "a valid bound token: 200, and the upstream sees X-Mesh-Subject" \
    eval '[[ $STATUS == 200 && $BODY == *"subject=[spiffe://mesh.local/web-service]"* &&
             $BODY == *"scopes=[assets:read"* && $BODY == *"bound=[true]"* ]]'
check "... the certificate header mesh-authz got does not reach the upstream" \
    eval '[[ $BODY == *"client_cert=[]"* ]]'

req web-service "$tok" /assets/1 -H "X-Mesh-Subject: spiffe://mesh.local/admin" \
    -H "X-Mesh-Bound: true"
check "a client-sent X-Mesh-Subject does not reach the upstream (nginx overwrites it)" \
    eval '[[ $STATUS == 200 && $BODY != *admin* &&
             $BODY == *"subject=[spiffe://mesh.local/web-service]"* ]]'

req web-service "" /assets/1
check "no token: 401 with WWW-Authenticate: Bearer" \
    eval '[[ $STATUS == 401 ]] && grep -qi "^WWW-Authenticate: Bearer" "$HDRS"'

forged=${tok%?????}AAAAA
[[ $forged == "$tok" ]] && forged=${tok%?????}BBBBB
req web-service "$forged" /assets/1
check "a forged signature: 401 invalid_token" \
    eval '[[ $STATUS == 401 ]] && grep -qi "error=\"invalid_token\"" "$HDRS"'

other=$(token_for web-service chat-service)
req web-service "$other" /assets/1
check "a token for another audience (one the issuer's verifier knows): 401 invalid_token" \
    eval '[[ $STATUS == 401 ]] && grep -qi "error=\"invalid_token\"" "$HDRS"'
req web-service "$other" /chat/room
check "... and the same token on its own audience's route: 200 (one verifier, two audiences)" \
    eval '[[ $STATUS == 200 && $BODY == *"scopes=[chat:read]"* ]]'

req chat-service "$tok" /assets/1
check "stolen: web-service's token with chat-service's certificate: 401" \
    eval '[[ $STATUS == 401 ]] && grep -qi "invalid_token" "$HDRS"'

req - "$tok" /assets/1
check "the bound token with no certificate at all: 401" eval '[[ $STATUS == 401 ]]'

req web-service "$tok" /admin/x
# nginx's auth_request passes WWW-Authenticate on a 401 only; the 403's reason is in the log.
check "a scope the token lacks: 403, insufficient_scope" \
    eval '[[ $STATUS == 403 ]] && grep -q "\"path\":\"/admin/x\".*\"reason\":\"insufficient_scope\"\|\"reason\":\"insufficient_scope\".*\"path\":\"/admin/x\"" "$T/decisions.log"'

req web-service "$tok" /assets/1 -X POST
check "a method the route does not allow: 403" eval '[[ $STATUS == 403 ]]'

req - "" /healthz -H "X-Mesh-Subject: spiffe://mesh.local/admin"
check "a public route: 200 with no token, and no identity reaches the upstream" \
    eval '[[ $STATUS == 200 && $BODY == *"subject=[]"* ]]'

req web-service "$tok" /nothing
check "no route: 403 (never allowed by default)" eval '[[ $STATUS == 403 ]]'

req - "" "/healthz/../assets/1"
check "a dot-segment path under a public prefix is refused (403), not allowed as /healthz" \
    eval '[[ $STATUS == 403 || $STATUS == 400 ]]'

# ---- an issuer that is down: mesh-authz answers 503 + Retry-After, which auth_request
# would turn into a 500; examples/authz/nginx-site.conf maps it back ----
req web-service "$tok" /down/1
check "an issuer that is down: the client sees 503 with Retry-After (nginx-site.conf's mapping)" \
    eval '[[ $STATUS == 503 && $BODY == *temporarily_unavailable* ]] &&
          grep -qiE "^Retry-After: [0-9]+" "$HDRS" || { log "status $STATUS: $BODY"; false; }'
check "... and nginx logged mesh-authz's 503 as the auth subrequest's status (not a guess)" \
    grep -q "auth request unexpected status: 503" "$T/nginx/error.log"

# ---- revocation through the issuer's feed ----
tok2=$(token_for web-service gateway)
req web-service "$tok2" /assets/2
first=$STATUS
st=$(revoke web-service "$tok2")
revoked() { req web-service "$tok2" /assets/2; [[ $STATUS == 401 ]]; }
check "revoked (mesh-issuer revoke, then the feed poll): 200 before, 401 after" \
    eval '[[ $first == 200 && $st == 200 ]] && eventually 30 revoked'

# The feed's lag: the seq mesh-authz read up to, against the issuer's own latest one.
issuer_seq() {
    curl -sf --cacert "$CERTS/ca.pem" --cert "$CERTS/gateway/cert.pem" \
        --key "$CERTS/gateway/key.pem" "$ISSUER_URL/v1/revocations?since=0" | jq -r .seq
}
feed_seq() {
    curl -sf "http://$METRICS/metrics" |
        awk '$1 == "mesh_authz_revocation_feed_seq{issuer=\"mesh\"}" {print $2}'
}
seq_caught_up() { local a b; a=$(issuer_seq) && b=$(feed_seq) && [[ $a -ge 1 && $a == "$b" ]]; }
check "mesh_authz_revocation_feed_seq{issuer=\"mesh\"} reaches the issuer's own feed seq (>= 1)" \
    eventually 30 seq_caught_up

# ---- the decision log and metrics ----
check "the decision log has one JSON line per decision, with reasons, without the token" \
    eval 'jq -e -s "length > 10 and any(.outcome == \"allow\" and .subject == \"spiffe://mesh.local/web-service\")
                    and any(.reason == \"cnf_mismatch\") and any(.reason == \"no_route\")" \
              "$T/decisions.log" >/dev/null && ! grep -qF "${tok:0:40}" "$T/decisions.log" &&
          ! grep -qF "${tok: -20}" "$T/decisions.log"'
m=$(curl -s "http://$METRICS/metrics" || true)
check "/metrics counts decisions by route, outcome and reason, and the verifier's counters" \
    eval '[[ $m == *"mesh_authz_decisions_total{route=\"assets\",outcome=\"allow\",reason=\"ok\"}"* &&
             $m == *"mesh_authz_decision_duration_seconds_bucket"* &&
             $m == *"mesh_authz_jwks_fetches_total{issuer=\"mesh\"}"* &&
             $m == *"mesh_authz_verifier_cache_hits_total"* ]]'
check "/metrics counts allowed decisions by the token's client id" \
    eval 'grep -qE "^mesh_authz_decisions_by_client_total\{client_id=\"[^\"]+\",outcome=\"allow\"\} [1-9]" <<<"$m"'

# ---- SIGHUP: a broken config is refused and the old one kept; a good one applies ----
cp "$T/authz.json" "$T/authz.good"
printf '{"listen": [{"unix": "%s/authz.sock", "mode": "0660"}], "routes": [{"prefix": "/", "pubic": true}]}' \
    "$T" >"$T/authz.json"
kill -HUP "$AUTHZ_PID"
check "SIGHUP with a broken config: the log says the old config is kept" \
    eventually 20 grep -q "reload failed, keeping the old config.*routes\[0\].pubic" "$T/authz.log"
req web-service "$tok" /assets/1
check "... and mesh-authz keeps serving with it" eval '[[ $STATUS == 200 ]]'

write_authz_config "$T/authz.json" ',
    {"name": "open", "prefix": "/open/", "public": true}'
kill -HUP "$AUTHZ_PID"
check "SIGHUP with a good config: reloaded" eventually 30 grep -q "reloaded" "$T/authz.log"
req - "" /open/x
check "... and its new public route answers 200" eval '[[ $STATUS == 200 ]]'

# ---- SIGTERM: a clean exit (under ASan: no leak) ----
stop_pid "$NGINX_PID"
kill -TERM "$AUTHZ_PID"
rc=0
wait "$AUTHZ_PID" || rc=$?
check "SIGTERM: mesh-authz exits 0 and removes its socket" eval '[[ $rc == 0 && ! -e $T/authz.sock ]]'
