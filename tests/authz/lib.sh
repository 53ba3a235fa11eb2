# Shared helpers of mesh-authz's end-to-end tests (sourced): a temp dir, a real mesh-ca and
# mesh-issuer, mesh-authz on a unix socket, and TAP output. Every process a test starts is
# recorded and stopped by its PID, whatever happens.
set -euo pipefail

: "${MESH_SOURCE_ROOT:?run through meson test (MESH_SOURCE_ROOT)}"
: "${MESH_BUILD_ROOT:?run through meson test (MESH_BUILD_ROOT)}"
B=$MESH_BUILD_ROOT
S=$MESH_SOURCE_ROOT
AUTHZ=$B/libmesh/authz/mesh-authz
ISSUER=$B/issuer/mesh-issuer
MESH_CA=$B/ca/mesh-ca
CALLER=$B/examples/caller
START_TIMEOUT=60 # seconds; the ASan build starts slowly

T=$(mktemp -d "${TMPDIR:-/tmp}/mesh-authz.XXXXXX")
chmod 700 "$T"
OWN_PIDS=()
FAILS=0
COUNT=0

log() { printf '# %s\n' "$*"; }
ok() { COUNT=$((COUNT + 1)); printf 'ok %d - %s\n' "$COUNT" "$*"; }
not_ok() { COUNT=$((COUNT + 1)); printf 'not ok %d - %s\n' "$COUNT" "$*"; FAILS=$((FAILS + 1)); }
check() { # description, command...
    local what=$1
    shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}

stop_pid() { # pid [signal]: stops one process and waits for it (SIGKILL after 10 s)
    local i
    kill "-${2:-TERM}" "$1" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

cleanup() {
    local rc=$? pid f
    for pid in "${OWN_PIDS[@]}"; do
        stop_pid "$pid"
    done
    for f in "$T"/*.log; do
        [[ -f $f ]] || continue
        if grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$f"; then
            not_ok "sanitizer report in $(basename "$f")"
            sed 's/^/#   /' "$f" | head -n 60
        fi
    done
    if ((rc != 0 || FAILS != 0)); then
        for f in "$T"/*.log "$T"/nginx/error.log; do
            [[ -f $f ]] || continue
            log "---- $f"
            tail -n 30 "$f" | sed 's/^/#   /'
        done
    fi
    rm -rf "$T"
    if ((rc != 0)); then
        COUNT=$((COUNT + 1))
        printf 'not ok %d - the test script stopped early (exit status %d)\n' "$COUNT" "$rc"
    fi
    printf '1..%d\n' "$COUNT"
    ((rc == 0 && FAILS == 0)) || exit 1
    exit 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

spawn() { # name, command...: runs it in the background, logging to $T/<name>.log
    local name=$1
    shift
    "$@" >"$T/$name.log" 2>&1 &
    OWN_PIDS+=("$!")
    LAST_PID=$!
}

eventually() { # secs, command...: polls a command
    local secs=$1 i
    shift
    for ((i = 0; i < secs * 5; i++)); do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    local p i
    for ((i = 0; i < 50; i++)); do
        p=$((20000 + RANDOM % 40000))
        port_in_use "$p" || { echo "$p"; return 0; }
    done
    return 1
}

# mesh-ca init: the mesh CA and a certificate per service of certs-templates/mesh.json
# (web-service and chat-service are the two callers, gateway is the proxy's own).
mesh_certs() {
    "$MESH_CA" init --dir "$T/certs" --template "$S/certs-templates/mesh.json" \
        >"$T/mesh-ca.log" 2>&1
    CERTS=$T/certs
}

# A real mesh-issuer on a free port; sets ISSUER_URL and exports what the caller needs.
issuer_up() {
    local port attempt
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        cat >"$T/issuer.json" <<JSON
{
  "issuer": "https://127.0.0.1:$port",
  "listen": "127.0.0.1:$port",
  "tls": {"cert": "certs/issuer/cert.pem", "key": "certs/issuer/key.pem", "ca": "certs/ca.pem"},
  "signing_keys": {"current": "certs/jwt-signing.key"},
  "store": "sqlite:issuer.db",
  "audiences": [
    {"name": "gateway", "description": "behind nginx", "scopes": ["assets:read", "assets:write"]},
    {"name": "chat-service", "description": "another audience", "scopes": ["chat:read"]}
  ],
  "policy": [
    {"identity": "spiffe://mesh.local/web-service", "audiences": ["gateway", "chat-service"],
     "scopes": ["assets:read", "chat:read"]},
    {"identity": "spiffe://mesh.local/chat-service", "audiences": ["gateway"],
     "scopes": ["assets:read"]}
  ],
  "workers": 2
}
JSON
        spawn issuer "$ISSUER" serve --config "$T/issuer.json"
        ISSUER_PID=$LAST_PID
        if eventually "$START_TIMEOUT" curl -sf -o /dev/null --cacert "$CERTS/ca.pem" \
            "https://127.0.0.1:$port/healthz"; then
            ISSUER_URL=https://127.0.0.1:$port
            export MESH_CERTS_DIR=$CERTS MESH_ISSUER_URL=$ISSUER_URL
            return 0
        fi
        stop_pid "$ISSUER_PID"
    done
    return 1
}

# mesh-authz with config $1 (a file); waits for its ready file. Sets AUTHZ_PID, METRICS.
authz_up() {
    rm -f "$T/authz.ready"
    spawn authz "$AUTHZ" --config "$1" --ready-file "$T/authz.ready"
    AUTHZ_PID=$LAST_PID
    eventually "$START_TIMEOUT" test -s "$T/authz.ready" || return 1
    METRICS=$(jq -r '.metrics // empty' "$T/authz.ready")
}

token_for() { "$CALLER" --service "$1" --audience "${2:-gateway}" --print-token; }

revoke() { # svc, token: POST /v1/revoke as the token's own subject; prints the status
    printf 'data = "token=%s"\n' "$2" |
        curl -s -K - --cert "$CERTS/$1/cert.pem" --key "$CERTS/$1/key.pem" \
            --cacert "$CERTS/ca.pem" -o /dev/null -w '%{http_code}' \
            "$ISSUER_URL/v1/revoke" || true
}
