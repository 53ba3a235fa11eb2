# Shared helpers of the end-to-end tests (sourced). Each test brings up the demo mesh with
# examples/demo.sh --setup-only in its own temp dir, drives the real binaries, and kills
# every process it or the demo started, by PID, whatever happens.
set -euo pipefail

: "${MESH_SOURCE_ROOT:?run through meson test (MESH_SOURCE_ROOT)}"
: "${MESH_BUILD_ROOT:?run through meson test (MESH_BUILD_ROOT)}"
B=$MESH_BUILD_ROOT
CALLER=$B/examples/caller
ISSUER=$B/issuer/mesh-issuer
MESH_CA=$B/ca/mesh-ca
ASSETS=$B/examples/asset-service
GATEWAY=$B/examples/gateway

T=$(mktemp -d "${TMPDIR:-/tmp}/mesh-e2e.XXXXXX")
OWN_PIDS=()
FAILS=0
COUNT=0

log() { printf '# %s\n' "$*"; }
ok() { COUNT=$((COUNT + 1)); printf 'ok %d - %s\n' "$COUNT" "$*"; }
not_ok() { COUNT=$((COUNT + 1)); printf 'not ok %d - %s\n' "$COUNT" "$*"; FAILS=$((FAILS + 1)); }
quiet() { "$@" >/dev/null 2>&1; }
check() { # description, command...
    local what=$1
    shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}

cleanup() {
    local rc=$? pid i
    for pid in "${OWN_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    [[ -x $T/demo/stop.sh && -f $T/demo/demo.pids ]] && "$T/demo/stop.sh" >/dev/null 2>&1
    for pid in "${OWN_PIDS[@]}" $(awk '{print $1}' "$T/demo/demo.pids" 2>/dev/null); do
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    # Under ASan/UBSan a service's report (leaks are found at exit) ends up in its log.
    local f
    for f in "$T"/demo/logs/*.log "$T"/*.log; do
        [[ -f $f ]] || continue
        if grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$f"; then
            not_ok "sanitizer report in $(basename "$f")"
            sed 's/^/#   /' "$f" | head -n 60
        fi
    done
    if ((rc != 0 || FAILS != 0)); then
        log "logs of $T/demo/logs:"
        for f in "$T"/demo/logs/*.log "$T"/*.log; do
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
    if ((rc == 0 && FAILS != 0)); then
        exit 1
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Starts the demo mesh in $T/demo and loads its env.sh (MESH_CERTS_DIR, MESH_ISSUER_URL,
# GATEWAY_URL, ASSETS_URL, ISSUER_CONFIG).
mesh_up() {
    "$MESH_SOURCE_ROOT/examples/demo.sh" --setup-only --build-dir "$B" --dir "$T/demo" \
        >"$T/setup.log" 2>&1 || { cat "$T/setup.log"; return 1; }
    # shellcheck disable=SC1091
    . "$T/demo/env.sh"
}

# The PID the demo recorded for `name` (issuer, gateway, asset-service).
demo_pid() { awk -v n="$1" '$2 == n {print $1}' "$T/demo/demo.pids" | tail -n 1; }

# Starts a process of our own in the background, logging to $T/<name>.log.
spawn() { # name, command...
    local name=$1
    shift
    "$@" >"$T/$name.log" 2>&1 &
    OWN_PIDS+=("$!")
    LAST_PID=$!
}

# Stops one process by PID and waits for it (SIGTERM, then SIGKILL after 10 s).
stop_pid() { # pid [signal]
    local i
    kill "-${2:-TERM}" "$1" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null || true
}

# Polls a command for up to `secs` seconds.
eventually() { # secs, command...
    local secs=$1 i
    shift
    for ((i = 0; i < secs * 4; i++)); do
        "$@" && return 0
        sleep 0.25
    done
    return 1
}

issuer_healthy() { curl -sf -o /dev/null --cacert "$MESH_CERTS_DIR/ca.pem" "$MESH_ISSUER_URL/healthz"; }

# Calls the gateway as `svc` with `token` (stdin to curl); prints the HTTP status.
gw_status() { # svc, token, path
    printf 'header = "Authorization: Bearer %s"\n' "$2" |
        curl -s -K - --cert "$MESH_CERTS_DIR/$1/cert.pem" --key "$MESH_CERTS_DIR/$1/key.pem" \
            --cacert "$MESH_CERTS_DIR/ca.pem" -o /dev/null -w '%{http_code}' "$GATEWAY_URL$3" ||
        true
}

token_for() { "$CALLER" --service "$1" --audience "${2:-gateway}" --print-token; }

revoke() { # svc, token: POST /v1/revoke as the token's own subject; prints the status
    printf 'data = "token=%s"\n' "$2" |
        curl -s -K - --cert "$MESH_CERTS_DIR/$1/cert.pem" --key "$MESH_CERTS_DIR/$1/key.pem" \
            --cacert "$MESH_CERTS_DIR/ca.pem" -o /dev/null -w '%{http_code}' \
            "$MESH_ISSUER_URL/v1/revoke" || true
}

# Steady traffic: one long-lived client making requests until $T/stop-<name> exists.
traffic_start() { # name [caller args...]
    local name=$1
    shift
    spawn "traffic-$name" "$CALLER" --repeat 100000 --interval-ms 100 \
        --stop-file "$T/stop-$name" "$@" "$GATEWAY_URL/assets/1"
    TRAFFIC_PID=$LAST_PID
}

traffic_stop() { # name, pid: stops it (not in a subshell: it waits for our child) and
    # sets SUMMARY to its last line, "requests: N, ok: N, failed: N"
    touch "$T/stop-$1"
    wait "$2" || true
    SUMMARY=$(tail -n 1 "$T/traffic-$1.log")
}
