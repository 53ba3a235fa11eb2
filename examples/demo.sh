#!/usr/bin/env bash
# The libmesh demo: a whole mesh on 127.0.0.1 (mesh-ca, mesh-issuer, nginx in front of
# asset-service with mesh-authz deciding, an external OpenID provider, a web-service caller,
# a CI pipeline, a legacy API key, the example C gateway, a FastAPI service that joins with
# a join token, and a certificate renewed online), its checks printed as a table. Run via
# ./dev demo.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
    cat <<'EOF'
usage: examples/demo.sh [--keep] [--build-dir DIR] [--dir DIR] [--help]

Starts a demo mesh on 127.0.0.1: nginx (Debian's) is the entry point, asking mesh-authz
(auth_request on a unix socket) about every request before it passes it to asset-service
over mTLS; the OpenID provider is panva's oidc-provider (tests/idp, installed by ./dev deps)
on Node. mesh-issuer also signs certificates online (a "certificates" section, the issuing
CA of `mesh-ca issuer-ca`, 24 h certificates). Shows each check working, steps 1-7, 9-11 and
13-14 through nginx:
  1. web-service -> nginx with certificate + token            200
  2. no token                                                 401 + WWW-Authenticate
  3. a token for another audience                             401 invalid_token
  4. web-service's token replayed with chat-service's cert    401 (certificate binding)
  5. a route needing a scope web-service lacks                403 insufficient_scope
  6. CI pipeline with a service token (examples/ci-token.sh)  200
  7. the token revoked                                        401 once the feed catches up
  8. mesh doctor --service web-service --audience gateway     all checks pass
  9. an external IdP's user token on a user route             200 (a mesh token: 401)
 10. a legacy API key, then "enabled": false + SIGHUP         200, then 401 legacy_key_refused
 11. a token on a single-use route, twice                     200, then 401 token_replayed
 12. web-service -> the example C gateway (links libmesh)     200
 13. web-service -> nginx -> examples/python-service          200, and its own call to
     (FastAPI on Debian's uvicorn; its first certificate       asset-service: 200, caller
     came with a one-time join token)                          python-service
 14. web-service renews online (mesh renew, its current       new serial; the next
     certificate) and calls nginx and python-service again     requests 200, nginx logs it

Takes about 6 s (about 10 s with an ASan build).

  --keep           leave the mesh running; prints curl lines and the stop command
  --setup-only     start the mesh and leave it running without the checks (tests use this)
  --build-dir DIR  where the binaries are (default: build/ of this checkout)
  --dir DIR        the demo's working directory (default: demo/ of this checkout, which is
                   git-ignored and recreated on each run)

Exit status: 0 when every step behaved as stated, 1 when one did not, 2 on a setup error.
EOF
}

KEEP=0
SETUP_ONLY=0
BUILD=$top/build
DIR=$top/demo
while (($#)); do
    case $1 in
    --keep) KEEP=1 ;;
    --setup-only) KEEP=1 SETUP_ONLY=1 ;;
    --build-dir) BUILD=$(cd "${2:?--build-dir needs a directory}" && pwd); shift ;;
    --dir) DIR=${2:?--dir needs a directory}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; printf 'demo: unknown option %s\n' "$1" >&2; exit 2 ;;
    esac
    shift
done

MESH_CA=$BUILD/ca/mesh-ca
ISSUER=$BUILD/issuer/mesh-issuer
GATEWAY=$BUILD/examples/gateway
ASSETS=$BUILD/examples/asset-service
CALLER=$BUILD/examples/caller
MESH=$BUILD/libmesh/cli/mesh
AUTHZ=$BUILD/libmesh/authz/mesh-authz
NGINX=$(command -v nginx || true)
[[ -n $NGINX ]] || NGINX=/usr/sbin/nginx
IDP_DIR=$top/tests/idp
CI_TOKEN=$top/examples/ci-token.sh
START_TIMEOUT=${MESH_DEMO_START_TIMEOUT:-60}   # seconds; ASan builds start slowly
REVOKE_TIMEOUT=${MESH_DEMO_REVOKE_TIMEOUT:-30} # seconds for the feed to catch up
POLL_MS=1000                                   # gateway's, mesh-authz's revocation poll
JWKS_MAX_AGE=${MESH_DEMO_JWKS_MAX_AGE:-300}    # the issuer's JWKS Cache-Control max-age
CERT_LIFETIME=86400                            # seconds: certificates mesh-issuer signs online
PYTHON=/usr/bin/python3                        # Debian's, with python3-fastapi and -uvicorn

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'demo: %s\n' "$*" >&2; exit 2; }

for b in "$MESH_CA" "$ISSUER" "$GATEWAY" "$ASSETS" "$CALLER" "$AUTHZ"; do
    [[ -x $b ]] || die "$b is not built: run ./dev build (or ./dev demo), or pass --build-dir"
done
[[ -x $NGINX ]] || die "nginx is needed (./dev deps installs Debian's nginx)"
command -v node >/dev/null && [[ -f $IDP_DIR/node_modules/oidc-provider/package.json ]] ||
    die "node and oidc-provider are needed for the external identity provider (./dev deps)"
command -v jq >/dev/null || die "jq is needed (./dev deps installs it)"
[[ -x $PYTHON ]] && "$PYTHON" -c 'import fastapi, uvicorn, httpx' 2>/dev/null ||
    die "$PYTHON with fastapi, uvicorn and httpx is needed for python-service (./dev deps installs python3-fastapi python3-uvicorn python3-httpx)"
command -v openssl >/dev/null || die "openssl is needed (./dev deps installs it)"
command -v curl >/dev/null || die "curl is needed (apt-get install curl)"

# ---- the demo directory and the processes we start ----

PIDS=()
stop_all() {
    local pid i
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}
on_exit() {
    local rc=$?
    if ((KEEP == 0 || rc != 0)); then
        stop_all
        # Kept for the record (and tests), under a name stop.sh will not act on.
        [[ -f $DIR/.mesh-demo && -f $DIR/demo.pids ]] && mv -f "$DIR/demo.pids" "$DIR/demo.pids.stopped"
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A previous --keep run in the same directory is stopped first (only PIDs it recorded).
if [[ -x $DIR/stop.sh && -f $DIR/demo.pids ]]; then
    say "stopping the mesh a previous --keep run left in $DIR"
    "$DIR/stop.sh" >/dev/null 2>&1 || true
fi
if [[ -e $DIR ]]; then
    [[ -f $DIR/.mesh-demo ]] || die "$DIR exists and is not a demo directory; pass --dir"
    rm -rf "$DIR"
fi
mkdir -p "$DIR/logs"
chmod 700 "$DIR"
: >"$DIR/.mesh-demo"
DIR=$(cd "$DIR" && pwd)
CERTS=$DIR/certs

start() { # name, command...: runs it in the background, logs to logs/<name>.log
    local name=$1
    shift
    "$@" >"$DIR/logs/$name.log" 2>&1 &
    PIDS+=("$!")
    printf '%s %s\n' "$!" "$name" >>"$DIR/demo.pids"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
    local p i
    for ((i = 0; i < 50; i++)); do
        p=$((20000 + RANDOM % 40000))
        port_in_use "$p" || { echo "$p"; return 0; }
    done
    die "no free port found on 127.0.0.1"
}

wait_until() { # seconds, description, pid, command...: polls until the command succeeds
    local secs=$1 what=$2 pid=$3 i
    shift 3
    for ((i = 0; i < secs * 5; i++)); do
        "$@" && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.2
    done
    printf 'demo: %s did not come up within %ss\n' "$what" "$secs" >&2
    return 1
}

wait_port_file() { # file, pid
    local i
    for ((i = 0; i < START_TIMEOUT * 5; i++)); do
        [[ -s $1 ]] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.2
    done
    return 1
}

# ---- 1. certificates ----

say "mesh-ca init: root + intermediate CA, a certificate per service, the JWT signing key"
"$MESH_CA" init --dir "$CERTS" --template "$top/certs-templates/mesh.json" >"$DIR/logs/mesh-ca.log" 2>&1 ||
    { cat "$DIR/logs/mesh-ca.log" >&2; die "mesh-ca init failed"; }
say "mesh-ca issuer-ca: the issuing CA mesh-issuer signs short-lived certificates with online"
"$MESH_CA" issuer-ca --dir "$CERTS" >>"$DIR/logs/mesh-ca.log" 2>&1 ||
    { cat "$DIR/logs/mesh-ca.log" >&2; die "mesh-ca issuer-ca failed"; }
# As on a real mesh, the pair moves to the issuer's side (ca.key stays with mesh-ca); certs/
# stays the CA's own directory.
mv "$CERTS/issuing-ca.pem" "$CERTS/issuing-ca.key" "$DIR/"

# ---- 2. the issuer ----

write_issuer_config() { # port
    cat >"$DIR/issuer.json" <<EOF
{
  "issuer": "https://127.0.0.1:$1",
  "listen": "127.0.0.1:$1",
  "tls": {"cert": "certs/issuer/cert.pem", "key": "certs/issuer/key.pem", "ca": "certs/ca.pem"},
  "signing_keys": {"current": "certs/jwt-signing.key"},
  "store": "sqlite:issuer.db",
  "audiences": [
    {"name": "gateway", "description": "the mesh's HTTPS entry point",
     "scopes": ["assets:read", "assets:write", "ci:deploy"]},
    {"name": "asset-service", "description": "assets, behind the gateway",
     "scopes": ["assets:read", "assets:write"]},
    {"name": "chat-service", "description": "chat", "scopes": ["chat:read"]},
    {"name": "python-service", "description": "the FastAPI example (examples/python-service)"}
  ],
  "policy": [
    {"identity": "spiffe://mesh.local/web-service",
     "audiences": ["gateway", "chat-service", "python-service"],
     "scopes": ["assets:read", "chat:read"]},
    {"identity": "spiffe://mesh.local/python-service", "audiences": ["asset-service"],
     "scopes": ["assets:read"]},
    {"identity": "spiffe://mesh.local/chat-service", "audiences": ["gateway"],
     "scopes": ["assets:read"]},
    {"identity": "spiffe://mesh.local/gateway", "audiences": ["asset-service"]}
  ],
  "certificates": {
    "ca_cert": "issuing-ca.pem", "ca_key": "issuing-ca.key",
    "crl": "issuing-crl.pem", "trust_domain": "mesh.local", "default_lifetime": $CERT_LIFETIME,
    "services": [
      {"name": "web-service", "dns": ["web-service", "localhost"], "ips": ["127.0.0.1"]},
      {"name": "python-service", "dns": ["python-service", "localhost"], "ips": ["127.0.0.1"]}
    ]
  },
  "jwks_max_age": $JWKS_MAX_AGE,
  "workers": 2
}
EOF
}

ISSUER_PORT=
for attempt in 1 2 3 4 5; do
    port=$(free_port)
    write_issuer_config "$port"
    if ((attempt == 1)); then
        say "issuer config $DIR/issuer.json (audiences gateway, asset-service, chat-service, python-service)"
        "$ISSUER" --check-config --config "$DIR/issuer.json" >"$DIR/logs/check-config.log" 2>&1 ||
            { cat "$DIR/logs/check-config.log" >&2; die "the issuer config is not valid"; }
        say "mesh-issuer token create ci: a service token for the CI pipeline"
        ci_json=$("$ISSUER" token create ci --audience gateway --scope ci:deploy --json \
            --config "$DIR/issuer.json") || die "mesh-issuer token create failed"
        ci_id=$(sed -n 's/.*"client_id":"\([^"]*\)".*/\1/p' <<<"$ci_json")
        ci_secret=$(sed -n 's/.*"client_secret":"\([^"]*\)".*/\1/p' <<<"$ci_json")
        [[ -n $ci_id && -n $ci_secret ]] || die "mesh-issuer token create printed no id/secret"
        (umask 077 && printf 'MESH_CLIENT_ID=%s\nMESH_CLIENT_SECRET=%s\n' "$ci_id" \
            "$ci_secret" >"$DIR/ci.env")
        unset ci_json
        say "mesh-issuer join-token create --service python-service: its first certificate"
        (umask 077 && "$ISSUER" join-token create --service python-service --ttl 10m --json \
            --config "$DIR/issuer.json" | jq -er .token >"$DIR/python-service.join") ||
            die "mesh-issuer join-token create failed"
    fi
    say "starting mesh-issuer on 127.0.0.1:$port"
    start issuer "$ISSUER" serve --config "$DIR/issuer.json"
    if wait_until "$START_TIMEOUT" mesh-issuer "${PIDS[-1]}" \
        curl -sf -o /dev/null --cacert "$CERTS/ca.pem" "https://127.0.0.1:$port/healthz"; then
        ISSUER_PORT=$port
        break
    fi
    say "mesh-issuer did not start on port $port (see $DIR/logs/issuer.log); trying another"
    stop_all
done
[[ -n $ISSUER_PORT ]] || die "mesh-issuer did not start; log: $DIR/logs/issuer.log"
ISSUER_URL=https://127.0.0.1:$ISSUER_PORT
export MESH_CERTS_DIR=$CERTS MESH_ISSUER_URL=$ISSUER_URL

# ---- 3. asset-service and the gateway ----

say "starting asset-service (mTLS, verifies tokens for audience asset-service)"
start asset-service "$ASSETS" --listen 127.0.0.1:0 --port-file "$DIR/asset-service.port"
wait_port_file "$DIR/asset-service.port" "${PIDS[-1]}" ||
    die "asset-service did not start; log: $DIR/logs/asset-service.log"
ASSETS_URL=https://127.0.0.1:$(<"$DIR/asset-service.port")

say "starting gateway (mTLS, audience gateway, route scopes, forwards to asset-service)"
start gateway "$GATEWAY" --listen 127.0.0.1:0 --port-file "$DIR/gateway.port" \
    --backend "$ASSETS_URL" --revocation-poll-ms "$POLL_MS"
wait_port_file "$DIR/gateway.port" "${PIDS[-1]}" ||
    die "gateway did not start; log: $DIR/logs/gateway.log"
GW=https://127.0.0.1:$(<"$DIR/gateway.port")
wait_until "$START_TIMEOUT" gateway "${PIDS[-1]}" \
    curl -sf -o /dev/null --cacert "$CERTS/ca.pem" "$GW/healthz" || die "gateway is not healthy"

# ---- 3b. the Python service joins the mesh ----

# No certificate from mesh-ca: a one-time join token gets python-service its first one from
# mesh-issuer (POST /v1/certificate, the issuing CA, $CERT_LIFETIME s), then it serves mTLS
# itself (uvicorn) and calls asset-service back with its own token.
say "mesh renew --service python-service with the join token: its first certificate, online"
mkdir -m 700 "$CERTS/python-service"
MESH_JOIN_TOKEN=$(<"$DIR/python-service.join") "$MESH" renew --service python-service --json \
    >"$DIR/logs/python-join.log" 2>&1 ||
    { cat "$DIR/logs/python-join.log" >&2; die "python-service could not join with its token"; }
rm -f "$DIR/python-service.join" # spent: the issuer keeps only its hash, marked used
PY_PORT=$(free_port)
# An ASan build's libmesh.so (./dev test's build-asan) loads into Python only after the ASan
# runtime: preload it, without the leak checker (it would report the interpreter's own
# allocations, as tests/python/meson.build explains); other reports still land in the log.
PY_ENV=()
asan_rt=$(ldd "$BUILD/libmesh/libmesh.so.0" 2>/dev/null | awk '$1 ~ /^libasan\.so/ {print $3}')
if [[ -n $asan_rt ]]; then
    PY_ENV=(LD_PRELOAD="$asan_rt" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0")
fi
say "starting python-service on 127.0.0.1:$PY_PORT (FastAPI on uvicorn, $PYTHON)"
start python-service env "${PY_ENV[@]}" MESH_SERVICE=python-service LISTEN="127.0.0.1:$PY_PORT" \
    PYTHONPATH="$top/libmesh/python" MESH_BUILD_ROOT="$BUILD" MESH_TRUSTED_PROXIES=127.0.0.2 \
    MESH_PEER_URL="$ASSETS_URL/assets/7" MESH_PEER_AUDIENCE=asset-service \
    "$PYTHON" "$top/examples/python-service/app.py"
PY_URL=https://127.0.0.1:$PY_PORT
# It believes X-Mesh-* headers only from nginx's upstream address, 127.0.0.2 (proxy_bind in
# examples/authz/demo-nginx.conf): every other demo process connects from 127.0.0.1.
# uvicorn asks every client for a mesh certificate, /healthz included
wait_until "$START_TIMEOUT" python-service "${PIDS[-1]}" \
    curl -sf -o /dev/null --cacert "$CERTS/ca.pem" --cert "$CERTS/web-service/cert.pem" \
    --key "$CERTS/web-service/key.pem" "$PY_URL/healthz" ||
    die "python-service did not start; log: $DIR/logs/python-service.log"

# ---- 4. mesh-authz and nginx in front of asset-service ----

# fill TEMPLATE OUT: the @...@ placeholders of examples/authz/demo-*
fill() {
    sed -e "s|@DIR@|$DIR|g" -e "s|@CERTS@|$CERTS|g" -e "s|@ISSUER_URL@|$ISSUER_URL|g" \
        -e "s|@POLL_MS@|$POLL_MS|g" -e "s|@GROUP@|$(id -gn)|g" -e "s|@USER_LINE@|$USER_LINE|g" \
        -e "s|@IDP_URL@|$IDP_URL|g" -e "s|@LEGACY_ENABLED@|$LEGACY_ENABLED|g" \
        -e "s|@API_KEY_ENTRY@|$KEY_ENTRY|g" \
        -e "s|@ASSETS_PORT@|${ASSETS_URL##*:}|g" -e "s|@PYTHON_PORT@|$PY_PORT|g" -e "s|@PORT@|${NGINX_PORT:-}|g" "$1" >"$2"
}
# nginx forwards the caller's leaf only ($ssl_client_escaped_cert): the bundle mesh-authz
# checks it against holds the intermediate too.
# The issuing CA signs the certificates mesh-issuer issues online (python-service's, renewals).
cat "$CERTS/ca.pem" "$CERTS/intermediate.pem" "$DIR/issuing-ca.pem" >"$DIR/bundle.pem"
USER_LINE=
# As root nginx's workers would switch to "nobody", who cannot enter the 0700 demo dir.
[[ $(id -u) == 0 ]] && USER_LINE="user $(id -un) $(id -gn);"

# The external identity provider: panva's oidc-provider on HTTPS (a CA of its own: it is not
# part of the mesh), a port it picks. Its client_credentials client stands for a user's
# login here; its access tokens (RFC 9068 JWTs, RS256) name audience profile-service.
mkdir -p "$DIR/idp"
(
    cd "$DIR/idp"
    umask 077
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
        -out ca.pem -subj /CN=demo-idp-ca -days 2 \
        -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout idp.key \
        -out idp.csr -subj /CN=127.0.0.1
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:false\n' \
        >idp.ext
    openssl x509 -req -in idp.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out idp.pem \
        -days 2 -extfile idp.ext
) >"$DIR/logs/idp-openssl.log" 2>&1 || die "openssl could not make the IdP's certificate"
say "starting the external OpenID provider (oidc-provider, tests/idp/provider.mjs)"
start idp node "$IDP_DIR/provider.mjs" "$DIR/idp/idp.pem" "$DIR/idp/idp.key" "$DIR/idp/ready.json"
wait_port_file "$DIR/idp/ready.json" "${PIDS[-1]}" ||
    die "the OpenID provider did not start; log: $DIR/logs/idp.log"
IDP_URL=$(jq -er .issuer "$DIR/idp/ready.json") || die "the OpenID provider wrote no issuer"
IDP_CLIENT=svc-client:svc-client-secret-for-tests-only # provider.mjs's test client

# A legacy API key, as a service that predates tokens holds it: mesh-authz keeps its hash
# (mesh-authz hash-key, the key on stdin), the key itself only demo/legacy-api.key (0600).
(umask 077 && openssl rand -hex 32 >"$DIR/legacy-api.key")
KEY_ENTRY=$("$AUTHZ" hash-key --name ci-legacy --expires "$(date -u -d '+1 year' +%F)" \
    <"$DIR/legacy-api.key") || die "mesh-authz hash-key failed"
LEGACY_ENABLED=true

fill "$top/examples/authz/demo-authz.json" "$DIR/authz.json"
"$AUTHZ" --check-config --config "$DIR/authz.json" >"$DIR/logs/authz-check.log" 2>&1 ||
    { cat "$DIR/logs/authz-check.log" >&2; die "the mesh-authz config is not valid"; }
say "starting mesh-authz (routes of $DIR/authz.json, unix socket $DIR/authz.sock)"
start mesh-authz "$AUTHZ" --config "$DIR/authz.json" --ready-file "$DIR/authz.ready"
AUTHZ_PID=${PIDS[-1]}
wait_port_file "$DIR/authz.ready" "${PIDS[-1]}" ||
    die "mesh-authz did not start; log: $DIR/logs/mesh-authz.log"

mkdir -p "$DIR/nginx/tmp"
NGINX_PORT=
for attempt in 1 2 3 4 5; do
    NGINX_PORT=$(free_port)
    fill "$top/examples/authz/demo-nginx.conf" "$DIR/nginx/nginx.conf"
    "$NGINX" -t -q -p "$DIR/nginx" -e "$DIR/logs/nginx-error.log" -c "$DIR/nginx/nginx.conf" \
        >"$DIR/logs/nginx-t.log" 2>&1 ||
        { cat "$DIR/logs/nginx-t.log" >&2; die "nginx refused $DIR/nginx/nginx.conf"; }
    say "starting nginx on 127.0.0.1:$NGINX_PORT (auth_request -> mesh-authz, upstream asset-service)"
    start nginx "$NGINX" -p "$DIR/nginx" -e "$DIR/logs/nginx-error.log" \
        -c "$DIR/nginx/nginx.conf" -g 'daemon off;'
    if wait_until "$START_TIMEOUT" nginx "${PIDS[-1]}" \
        curl -sf -o /dev/null --cacert "$CERTS/ca.pem" "https://127.0.0.1:$NGINX_PORT/healthz"; then
        break
    fi
    say "nginx did not start on port $NGINX_PORT (see $DIR/logs/nginx-error.log); trying another"
    kill -TERM "${PIDS[-1]}" 2>/dev/null || true
    wait "${PIDS[-1]}" 2>/dev/null || true
    NGINX_PORT=
done
[[ -n $NGINX_PORT ]] || die "nginx did not start; log: $DIR/logs/nginx-error.log"
ENTRY=https://127.0.0.1:$NGINX_PORT

keep_running() {
    {
        printf '#!/bin/sh\n# Stops the demo mesh started by examples/demo.sh --keep (by PID).\n'
        printf 'cd "%s" || exit 1\n' "$DIR"
        printf 'while read -r pid name; do kill "$pid" 2>/dev/null && echo "stopped $name ($pid)"; done < demo.pids\n'
        printf 'rm -f demo.pids\n'
    } >"$DIR/stop.sh"
    chmod 755 "$DIR/stop.sh"
    cat >"$DIR/env.sh" <<EOF
export MESH_CERTS_DIR=$CERTS
export MESH_ISSUER_URL=$ISSUER_URL
export NGINX_URL=$ENTRY
export IDP_URL=$IDP_URL
export GATEWAY_URL=$GW
export ASSETS_URL=$ASSETS_URL
export PYTHON_SERVICE_URL=$PY_URL
export MESH_DEMO_DIR=$DIR
export ISSUER_CONFIG=$DIR/issuer.json
EOF
    cat <<EOF

The mesh keeps running (PIDs in $DIR/demo.pids):
  mesh-issuer    $ISSUER_URL
  nginx          $ENTRY   (the entry point; mesh-authz decides, $DIR/authz.json)
  OpenID provider $IDP_URL   (oidc-provider; CA $DIR/idp/ca.pem)
  asset-service  $ASSETS_URL
  python-service $PY_URL   (FastAPI; through nginx at /python/)
  C gateway      $GW   (the example that links libmesh directly)
  logs           $DIR/logs/   (mesh-authz's decisions: authz-decisions.log)

Talk to it:
  . $DIR/env.sh
  $CALLER \$NGINX_URL/assets/42
  TOKEN=\$($CALLER --print-token)
  curl --cacert $CERTS/ca.pem --cert $CERTS/web-service/cert.pem \\
       --key $CERTS/web-service/key.pem -H "Authorization: Bearer \$TOKEN" \$NGINX_URL/assets/42
  curl --cacert $CERTS/ca.pem \$NGINX_URL/assets/42          # 401: no certificate, no token
  (set -a; . $DIR/ci.env; TLS_CA_PATH=$CERTS/ca.pem $top/examples/ci-token.sh --url \$NGINX_URL/ci/deploy)
  $CALLER \$GATEWAY_URL/assets/42                            # the same through the C gateway
  $CALLER --audience python-service \$NGINX_URL/python/peer  # the FastAPI service, and its call back
  $MESH renew --service web-service                           # a new certificate, online

Stop it:
  $DIR/stop.sh
EOF
}

if ((SETUP_ONLY)); then
    keep_running
    exit 0
fi

# ---- the checks ----

RESULTS=()
FAILED=0
record() { # number, description, expected, got, ok(0/1), explanation
    local mark=PASS
    if (($5)); then mark=FAIL; FAILED=$((FAILED + 1)); fi
    RESULTS+=("$(printf '%s\t%s\t%s\t%s\t%s\t%s' "$1" "$2" "$3" "$4" "$mark" "$6")")
    printf '    step %s: %s (got %s)\n' "$1" "$mark" "$4" >&2
}

# Calls nginx with curl as SERVICE (cert; "-" for none) and TOKEN ("" for none).
# Sets STATUS, WWW (WWW-Authenticate value) and BODY. The token goes through stdin, never
# the command line.
# EXTRA_HEADER (a "Name: value" line, e.g. an API key) goes through stdin too.
call() { # service, token, method, path
    local svc=$1 token=$2 method=$3 path=$4 cert=() hdr
    [[ $svc != - ]] && cert=(--cert "$CERTS/$svc/cert.pem" --key "$CERTS/$svc/key.pem")
    hdr=$DIR/last.headers
    STATUS=$( {
        [[ -n $token ]] && printf 'header = "Authorization: Bearer %s"\n' "$token"
        [[ -n ${EXTRA_HEADER:-} ]] && printf 'header = "%s"\n' "$EXTRA_HEADER"
        true
    } | curl -s -K - "${cert[@]}" --cacert "$CERTS/ca.pem" -X "$method" -D "$hdr" \
        -o "$DIR/last.body" -w '%{http_code}' "$ENTRY$path") || STATUS=000
    WWW=$(sed -n 's/^[Ww][Ww][Ww]-[Aa]uthenticate: *//p' "$hdr" 2>/dev/null | tr -d '\r')
    DESC=$(sed -n 's/.*error_description="\([^"]*\)".*/\1/p' <<<"$WWW")
    BODY=$(cat "$DIR/last.body" 2>/dev/null || true)
}

token_for() { # service, audience
    MESH_CERTS_DIR=$CERTS "$CALLER" --service "$1" --audience "$2" --print-token
}

say "running the checks"

# 1. the happy path, through the libmesh client
out=$("$CALLER" "$ENTRY/assets/42" 2>&1) || true
st=$(sed -n '1s/^HTTP //p' <<<"$out")
if [[ $st == 200 && $out == *'"caller":"spiffe://mesh.local/web-service"'* &&
    $out == *'"via":"spiffe://mesh.local/gateway"'* ]]; then
    record 1 "web-service -> nginx, cert + token" 200 "$st" 0 \
        "asset-service answered: caller spiffe://mesh.local/web-service via nginx (mesh-authz allowed)"
else
    record 1 "web-service -> nginx, cert + token" 200 "${st:-none}" 1 "got: ${out:0:120}"
fi

# 2. no token at all
call web-service "" GET /assets/42
if [[ $STATUS == 401 && -n $WWW ]]; then
    record 2 "no token" 401 "$STATUS" 0 "WWW-Authenticate: $WWW"
else
    record 2 "no token" 401 "$STATUS" 1 "WWW-Authenticate: '${WWW}'"
fi

# 3. a token for another audience (chat-service) presented to nginx (route audience gateway)
tok_other=$(token_for web-service chat-service) || tok_other=
call web-service "$tok_other" GET /assets/42
if [[ $STATUS == 401 && $WWW == *invalid_token* && $WWW == *audience* ]]; then
    record 3 "token for another audience" 401 "$STATUS" 0 "invalid_token ($DESC): its aud is chat-service, not gateway"
else
    record 3 "token for another audience" 401 "$STATUS" 1 "WWW-Authenticate: '${WWW}'"
fi

# 4. web-service's token replayed with chat-service's certificate
tok_web=$(token_for web-service gateway) || tok_web=
call chat-service "$tok_web" GET /assets/42
if [[ $STATUS == 401 && $WWW == *invalid_token* && $WWW == *cnf* ]]; then
    record 4 "stolen token, other certificate" 401 "$STATUS" 0 "invalid_token ($DESC): cnf.x5t#S256 names web-service's certificate"
else
    record 4 "stolen token, other certificate" 401 "$STATUS" 1 "WWW-Authenticate: '${WWW}'"
fi

# 5. a route needing assets:write, which web-service's policy does not grant
call web-service "$tok_web" POST /assets
if [[ $STATUS == 403 && $WWW == *insufficient_scope* ]]; then
    record 5 "route needs a scope it lacks" 403 "$STATUS" 0 "insufficient_scope: POST /assets needs assets:write"
else
    record 5 "route needs a scope it lacks" 403 "$STATUS" 1 "WWW-Authenticate: '${WWW}'"
fi

# 6. the CI pipeline: a service token (no certificate) exchanged for a JWT
out=$(set -a && . "$DIR/ci.env" && TLS_CA_PATH=$CERTS/ca.pem MESH_CLI=$MESH "$CI_TOKEN" --url "$ENTRY/ci/deploy" 2>&1) || true
st=$(sed -n 's/^HTTP //p' <<<"$out" | head -n 1)
if [[ $st == 200 && $out == *'"caller":"svc-token:ci"'* ]]; then
    record 6 "CI pipeline, service token" 200 "$st" 0 "POST /ci/deploy as svc-token:ci (unbound tokens only on /ci/)"
else
    record 6 "CI pipeline, service token" 200 "${st:-none}" 1 "got: ${out:0:120}"
fi

# 7. revocation: web-service revokes its own token; mesh-authz's feed poll picks it up
call web-service "$tok_web" GET /assets/7
before=$STATUS
rev=$( {
    printf 'data = "token=%s"\n' "$tok_web"
} | curl -s -K - --cert "$CERTS/web-service/cert.pem" --key "$CERTS/web-service/key.pem" \
    --cacert "$CERTS/ca.pem" -o /dev/null -w '%{http_code}' "$ISSUER_URL/v1/revoke") || rev=000
t0=$SECONDS
STATUS=000
if [[ $before == 200 && $rev == 200 ]]; then
    while ((SECONDS - t0 < REVOKE_TIMEOUT)); do
        call web-service "$tok_web" GET /assets/7
        [[ $STATUS == 401 ]] && break
        sleep 0.25
    done
fi
if [[ $STATUS == 401 && $WWW == *revoked* ]]; then
    record 7 "token revoked" 401 "$STATUS" 0 "invalid_token ($DESC) ~$((SECONDS - t0))s after POST /v1/revoke (feed polled every ${POLL_MS}ms)"
else
    record 7 "token revoked" 401 "$STATUS" 1 "before: $before, revoke: $rev, WWW-Authenticate: '${WWW}'"
fi

# 8. mesh doctor for web-service: files, chain, SPIFFE ID, issuer, JWKS, a token for gateway
if [[ -x $MESH ]] && "$MESH" doctor --help >/dev/null 2>&1; then
    rc=0
    out=$("$MESH" doctor --service web-service --audience gateway 2>&1) || rc=$?
    printf '%s\n' "$out" >"$DIR/logs/doctor.log"
    n=$(grep -c '✓' <<<"$out" || true)
    bad=$(grep -c '✗' <<<"$out" || true)
    if ((rc == 0 && bad == 0 && n > 0)); then
        record 8 "mesh doctor --service web-service" "exit 0" "exit 0" 0 "$n checks ✓: files, key, chain, SPIFFE ID, issuer, JWKS, a token"
    else
        record 8 "mesh doctor --service web-service" "exit 0" "exit $rc" 1 "$(grep -m1 '✗' <<<"$out" | tr -s ' ')"
    fi
else
    record 8 "mesh doctor --service web-service" "exit 0" none 1 "the mesh CLI has no 'doctor' verb in this build"
fi

# 9. a user token of the external OpenID provider on the user route /profile/ (issuer "idp"
# only): accepted, its email claim passed on; web-service's mesh token there is refused.
utok=$( { printf 'user = "%s"\n' "$IDP_CLIENT"; } | curl -s -K - --cacert "$DIR/idp/ca.pem" \
    -d grant_type=client_credentials --data-urlencode resource=https://profile.test/ \
    --data-urlencode scope=read "$IDP_URL/token" | jq -r '.access_token // empty') || utok=
call - "$utok" GET /profile/me
user_status=$STATUS user_body=$BODY
call web-service "$(token_for web-service gateway)" GET /profile/me
if [[ $user_status == 200 && $user_body == *'"caller":"svc-client"'* && $STATUS == 401 ]]; then
    record 9 "external IdP user token, user route" 200 "$user_status" 0 \
        "oidc-provider's RS256 token (aud profile-service) as svc-client; a mesh token there: 401"
else
    record 9 "external IdP user token, user route" 200 "${user_status:-none}" 1 \
        "user token: $user_status ${user_body:0:80}; mesh token: $STATUS"
fi

# 10. the legacy API key: accepted while "enabled", refused once the operator switches it
# off ("enabled": false in the config, SIGHUP to mesh-authz; the old config stays until the
# new one is valid). The key goes to curl through stdin.
EXTRA_HEADER="X-Api-Key: $(<"$DIR/legacy-api.key")"
call - "" GET /legacy/report
key_before=$STATUS key_body=$BODY
LEGACY_ENABLED=false
fill "$top/examples/authz/demo-authz.json" "$DIR/authz.json"
kill -HUP "$AUTHZ_PID"
t0=$SECONDS
STATUS=000
while ((SECONDS - t0 < 20)); do
    call - "" GET /legacy/report
    [[ $STATUS == 401 ]] && grep -q '"reason":"legacy_key_refused"' "$DIR/logs/authz-decisions.log" && break
    sleep 0.2
done
unset EXTRA_HEADER
if [[ $key_before == 200 && $key_body == *'"caller":"api-key:ci-legacy"'* && $STATUS == 401 ]] &&
    grep -q '"reason":"legacy_key_refused"' "$DIR/logs/authz-decisions.log"; then
    record 10 "legacy API key, then the switch" "200/401" "$key_before/$STATUS" 0 \
        "accepted as api-key:ci-legacy (counted, logged by name), refused after \"enabled\": false + SIGHUP (legacy_key_refused)"
else
    record 10 "legacy API key, then the switch" "200/401" "$key_before/$STATUS" 1 \
        "before: ${key_body:0:80}; WWW-Authenticate: '${WWW}'"
fi

# 11. a single-use route: the jti is remembered, the same token a second time is refused
otok=$(token_for web-service gateway) || otok=
call web-service "$otok" GET /once/download
once_first=$STATUS
call web-service "$otok" GET /once/download
if [[ $once_first == 200 && $STATUS == 401 && $WWW == *token_replayed* ]]; then
    record 11 "single-use route, the token twice" "200/401" "$once_first/$STATUS" 0 \
        "invalid_token ($DESC) the second time: the jti replay cache"
else
    record 11 "single-use route, the token twice" "200/401" "$once_first/$STATUS" 1 \
        "WWW-Authenticate: '${WWW}'"
fi

# 12. the example C gateway: the same call, verified in-process by a program linking libmesh
out=$("$CALLER" "$GW/assets/42" 2>&1) || true
st=$(sed -n '1s/^HTTP //p' <<<"$out")
if [[ $st == 200 && $out == *'"caller":"spiffe://mesh.local/web-service"'* ]]; then
    record 12 "web-service -> C gateway (libmesh)" 200 "$st" 0 \
        "examples/gateway verified in-process, forwarded with its own token"
else
    record 12 "web-service -> C gateway (libmesh)" 200 "${st:-none}" 1 "got: ${out:0:120}"
fi

# 13. the Python service: web-service calls it through nginx (mesh-authz, audience
# python-service); it calls asset-service back with its own token (async httpx transport).
ptok=$(token_for web-service python-service) || ptok=
call web-service "$ptok" GET /python/whoami
who_status=$STATUS who_body=$BODY
call web-service "$ptok" GET /python/peer
who_sub=$(jq -r '.subject // empty' <<<"$who_body" 2>/dev/null || true)
peer_st=$(jq -r '.status // empty' <<<"$BODY" 2>/dev/null || true)
peer_caller=$(jq -r '.body.caller // empty' <<<"$BODY" 2>/dev/null || true)
if [[ $who_status == 200 && $who_sub == spiffe://mesh.local/web-service && $STATUS == 200 &&
    $peer_st == 200 && $peer_caller == spiffe://mesh.local/python-service ]]; then
    record 13 "web-service -> nginx -> python-service" "200/200" "$who_status/$STATUS" 0 \
        "FastAPI saw $who_sub (via nginx); its call to asset-service: $peer_st, caller $peer_caller"
else
    record 13 "web-service -> nginx -> python-service" "200/200" "$who_status/$STATUS" 1 \
        "whoami: $(tr -s '\n' ' ' <<<"${who_body:0:80}"); peer: $(tr -s '\n' ' ' <<<"${BODY:0:80}")"
fi

# 14. a renewal: web-service renews its mesh-ca certificate online (mesh renew, mTLS with the
# current one: a new key, a ${CERT_LIFETIME}s certificate of the issuing CA); its next
# requests present the new certificate (nginx logs its serial) and keep working.
serial_of() { openssl x509 -in "$1" -noout -serial 2>/dev/null | cut -d= -f2 || true; }
old_serial=$(serial_of "$CERTS/web-service/cert.pem")
rc=0
"$MESH" renew --service web-service --json >"$DIR/logs/renew-web.log" 2>&1 || rc=$?
new_serial=$(serial_of "$CERTS/web-service/cert.pem")
new_issuer=$(openssl x509 -in "$CERTS/web-service/cert.pem" -noout -issuer 2>/dev/null || true)
out=$("$CALLER" "$ENTRY/assets/43" 2>&1) || true
st=$(sed -n '1s/^HTTP //p' <<<"$out")
call web-service "$(token_for web-service python-service)" GET /python/peer
# nginx writes the access log line once the answer is out: allow it a moment.
seen=
for ((i = 0; i < 25; i++)); do
    seen=$( (grep '"GET /assets/43 ' "$DIR/logs/nginx-access.log" || true) | tail -n 1 |
        sed -n 's/.*client_serial=\([0-9A-Fa-f]*\).*/\1/p')
    [[ -n $seen ]] && break
    sleep 0.2
done
if ((rc == 0)) && [[ -n $new_serial && $new_serial != "$old_serial" && $st == 200 &&
    $STATUS == 200 && ${seen^^} == "${new_serial^^}" && $new_issuer == *issuing* ]]; then
    record 14 "renewal: web-service's cert, online" "200/200" "$st/$STATUS" 0 \
        "serial $old_serial -> $new_serial (mesh-issuer's issuing CA, ${CERT_LIFETIME}s); nginx saw $seen"
else
    record 14 "renewal: web-service's cert, online" "200/200" "${st:-none}/$STATUS" 1 \
        "renew exit $rc; serial $old_serial -> ${new_serial:-none}; nginx saw ${seen:-none}; $new_issuer"
fi

# ---- the table ----

printf '\n%-2s  %-38s %-7s %-7s %-2s  %s\n' '#' 'check' 'expect' 'got' 'ok' 'why'
printf '%s\n' "-------------------------------------------------------------------------------------------------------"
for row in "${RESULTS[@]}"; do
    IFS=$'\t' read -r n what exp got mark why <<<"$row"
    [[ $mark == PASS ]] && mark='✓' || mark='✗'
    printf '%-2s  %-38s %-7s %-7s %s   %s\n' "$n" "$what" "$exp" "$got" "$mark" "$why"
done
printf '\n'
if ((FAILED > 0)); then
    printf 'demo: %d step(s) did not behave as stated; logs in %s/logs/\n' "$FAILED" "$DIR" >&2
    [[ -f $DIR/logs/doctor.log ]] && sed 's/^/    /' "$DIR/logs/doctor.log" >&2
    exit 1
fi
printf 'all %d steps behaved as stated.\n' "${#RESULTS[@]}"

((KEEP)) && keep_running
exit 0
