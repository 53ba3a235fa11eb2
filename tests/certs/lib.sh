# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# What the certs suite's scripts share (sourced; CERTS_TMP names the temp dir): the binaries,
# a temp dir, TAP output (ok/not_ok/check), a cleanup that stops every PID in PIDS, scans the
# issuer's log for sanitizer reports and prints the plan, and free_port.
: "${MESH_BUILD_ROOT:?run through meson test (MESH_BUILD_ROOT)}"
B=$MESH_BUILD_ROOT
ISSUER=$B/issuer/mesh-issuer
MESH_CA=$B/ca/mesh-ca

T=$(mktemp -d "${TMPDIR:-/tmp}/${CERTS_TMP:-mesh-certs}.XXXXXX")
PIDS=()
FAILS=0
COUNT=0

log() { printf '# %s\n' "$*"; }
ok() { COUNT=$((COUNT + 1)); printf 'ok %d - %s\n' "$COUNT" "$*"; }
not_ok() { COUNT=$((COUNT + 1)); printf 'not ok %d - %s\n' "$COUNT" "$*"; FAILS=$((FAILS + 1)); }
check() { # description, command...
    local what=$1
    shift
    if "$@" >/dev/null; then ok "$what"; else not_ok "$what"; fi
}

cleanup() {
    local rc=$? pid i
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [[ -f $T/issuer.log ]] &&
        grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$T/issuer.log"; then
        not_ok "sanitizer report in the issuer's log"
        FAILS=$((FAILS + 1))
    fi
    if ((rc != 0 || FAILS != 0)) && [[ -f $T/issuer.log ]]; then
        log "issuer log:"
        tail -n 40 "$T/issuer.log" | sed 's/^/#   /'
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

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
