#!/usr/bin/env bash
# Renewal against the real mesh-issuer (its certificate endpoint, docs/CERTIFICATES.md): a real
# mesh-ca mints the mesh and the issuing CA; `mesh renew` bootstraps from a join token, renews
# with the certificate, keeps a 60-second certificate renewed as a daemon signalling a PID; a
# service linking libmesh (the caller example) started with only a join token gets its
# certificate, then tokens; a revoked certificate cannot renew. Registered in meson only once
# issuer/certs.c exists; skips nothing. Every process started here is stopped by its PID. TAP.
set -euo pipefail

: "${MESH_BUILD_ROOT:?run through meson test (MESH_BUILD_ROOT)}"
B=$MESH_BUILD_ROOT
ISSUER=$B/issuer/mesh-issuer
MESH_CA=$B/ca/mesh-ca
MESH=$B/libmesh/cli/mesh
CALLER=$B/examples/caller

T=$(mktemp -d "${TMPDIR:-/tmp}/mesh-renew-e2e.XXXXXX")
PIDS=()
FAILS=0
COUNT=0

log() { printf '# %s\n' "$*"; }
ok() { COUNT=$((COUNT + 1)); printf 'ok %d - %s\n' "$COUNT" "$*"; }
not_ok() { COUNT=$((COUNT + 1)); printf 'not ok %d - %s\n' "$COUNT" "$*"; FAILS=$((FAILS + 1)); }
check() { # description, command...
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then ok "$what"; else not_ok "$what"; fi
}

cleanup() {
    local rc=$? pid i f
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    for f in "$T"/*.log; do
        [[ -f $f ]] || continue
        if grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$f"; then
            not_ok "sanitizer report in $(basename "$f")"
        fi
        if ((rc != 0 || FAILS != 0)); then
            log "---- $f"
            tail -n 30 "$f" | sed 's/^/#   /'
        fi
    done
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
eventually() { # secs, command...
    local secs=$1 i
    shift
    for ((i = 0; i < secs * 4; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.25
    done
    return 1
}
serial() { openssl x509 -in "$1" -noout -serial | cut -d= -f2 | tr A-F a-f; }

C=$T/certs
cat >"$T/mesh.json" <<'JSON'
{
  "trust_domain": "mesh.local",
  "development": true,
  "services": [{"name": "issuer"}, {"name": "svc-b"}]
}
JSON
"$MESH_CA" init --template "$T/mesh.json" --dir "$C" >"$T/init.log" 2>&1 ||
    { cat "$T/init.log"; exit 1; }
"$MESH_CA" issuer-ca --dir "$C" >"$T/issuer-ca.log" 2>&1 || { cat "$T/issuer-ca.log"; exit 1; }

PORT=$(free_port)
URL=https://127.0.0.1:$PORT
cat >"$T/issuer.json" <<JSON
{
  "issuer": "$URL",
  "listen": "127.0.0.1:$PORT",
  "tls": {"cert": "certs/issuer/cert.pem", "key": "certs/issuer/key.pem",
          "ca": "certs/ca.pem", "crl": "certs/crl.pem"},
  "signing_keys": {"current": "certs/jwt-signing.key"},
  "store": "sqlite:issuer.db",
  "audiences": [{"name": "svc-b"}],
  "policy": [{"identity": "spiffe://mesh.local/*", "audiences": ["svc-b"]}],
  "rate_limits": {"per_identity": {"rate": 0, "burst": 0}, "per_source": {"rate": 0, "burst": 0}},
  "certificates": {
    "ca_cert": "certs/issuing-ca.pem", "ca_key": "certs/issuing-ca.key",
    "crl": "issuing-crl.pem", "trust_domain": "mesh.local",
    "min_lifetime": 60, "default_lifetime": 3600,
    "services": [
      {"name": "nginx", "dns": ["nginx", "localhost"], "ips": ["127.0.0.1"], "lifetime": 60},
      {"name": "web", "dns": ["web", "localhost"], "ips": ["127.0.0.1"]}
    ]
  }
}
JSON
"$ISSUER" serve --config "$T/issuer.json" >"$T/issuer.log" 2>&1 &
PIDS+=("$!")
check "mesh-issuer with a certificates section starts" \
    eventually 60 curl -sf -o /dev/null --cacert "$C/ca.pem" "$URL/healthz"
cli() { "$ISSUER" "$@" --config "$T/issuer.json"; }
join_token() { cli join-token create --service "$1" --ttl 1h --json | jq -r .token; }

export MESH_ISSUER_URL=$URL TLS_CA_PATH=$C/ca.pem
N=$T/nginx
mkdir -p "$N"
export TLS_CERT_PATH=$N/cert.pem TLS_KEY_PATH=$N/key.pem

# ---- bootstrap and renewal with `mesh renew` ----
rc=0
"$MESH" renew --json >"$T/once.json" 2>"$T/once.err" || rc=$?
check "mesh renew without a certificate or join token: exit 1 (got $rc)" test "$rc" = 1
check "... and says to get a join token" \
    jq -e '.event == "failed" and (.detail | contains("join token"))' "$T/once.json"
JT=$(join_token nginx)
check "join-token create printed a token" grep -Eq '^mjt_[A-Za-z0-9_-]{43}$' <<<"$JT"
rc=0
MESH_JOIN_TOKEN=$JT "$MESH" renew --json >"$T/boot.json" 2>"$T/boot.err" || rc=$?
check "mesh renew with MESH_JOIN_TOKEN gets the first certificate (exit $rc)" test "$rc" = 0
check "... for spiffe://mesh.local/nginx" \
    jq -e '.event == "renewed" and .spiffe_id == "spiffe://mesh.local/nginx"' "$T/boot.json"
check "... the key is 0600" test "$(stat -c %a "$N/key.pem")" = 600
check "... the chain verifies to the root" \
    openssl verify -CAfile "$C/ca.pem" -untrusted "$N/cert.pem" "$N/cert.pem"
check "... key and certificate match" \
    test "$(openssl x509 -in "$N/cert.pem" -noout -pubkey)" = "$(openssl pkey -in "$N/key.pem" -pubout)"
rc=0
MESH_JOIN_TOKEN=$JT "$MESH" renew >"$T/again.out" 2>"$T/again.err" || rc=$?
first=$(serial "$N/cert.pem")
check "a renewal with the certificate (the spent token is not needed) (exit $rc)" test "$rc" = 0
check "... a new serial" test "$(serial "$N/cert.pem")" != "$(jq -r .serial "$T/boot.json")"
check "mesh doctor: a fresh 60 s certificate is healthy (exit 0)" \
    "$MESH" doctor --cert "$N/cert.pem" --key "$N/key.pem"

# ---- the daemon: a 60 s certificate renewed in place, a PID signalled each time ----
sleep 1000 &
SIG_PID=$!
PIDS+=("$SIG_PID")
# The issuer backdates notBefore 60 s: a 60 s certificate spans 120 s; renewing at 55 % of it
# is about 6 s from now.
"$MESH" renew --daemon --json --fraction 0.55 --signal "$SIG_PID:USR1" \
    --exec "echo renewed >>'$T/exec.log'" >"$T/daemon.json" 2>"$T/daemon.log" &
DPID=$!
PIDS+=("$DPID")
check "the daemon renews twice (bounded: 90 s)" \
    eventually 90 bash -c "[[ \$(grep -c '\"event\":\"renewed\"' '$T/daemon.json') -ge 2 ]]"
check "... and ran --exec after each renewal" \
    bash -c "[[ \$(grep -c renewed '$T/exec.log') -ge 2 ]]"
check "... and signalled the PID (USR1 ended it)" bash -c "! kill -0 $SIG_PID"
check "... the pair on disk still matches" \
    test "$(openssl x509 -in "$N/cert.pem" -noout -pubkey)" = "$(openssl pkey -in "$N/key.pem" -pubout)"
check "... with another serial than before" test "$(serial "$N/cert.pem")" != "$first"
kill -TERM "$DPID"
drc=0
wait "$DPID" || drc=$?
check "SIGTERM stops the daemon with exit 0 (got $drc)" test "$drc" = 0

# ---- a revoked certificate cannot renew ----
rc=0
cli cert revoke "$(serial "$N/cert.pem")" >"$T/revoke.log" 2>&1 || rc=$?
check "mesh-issuer cert revoke of the renewed certificate (exit $rc)" test "$rc" = 0
rc=0
"$MESH" renew >"$T/revoked.out" 2>"$T/revoked.err" || rc=$?
check "a revoked certificate cannot renew (exit 1, got $rc)" test "$rc" = 1
check "... the issuer's reason is shown" grep -qiE 'access_denied|revoked' "$T/revoked.err"

# ---- a libmesh service started with only a join token gets its certificate, then tokens ----
W=$T/web
mkdir -p "$W"
WT=$(join_token web)
rc=0
TLS_CERT_PATH=$W/cert.pem TLS_KEY_PATH=$W/key.pem MESH_RENEW=1 MESH_JOIN_TOKEN=$WT \
    "$CALLER" --service web --audience svc-b --print-token >"$T/web.token" 2>"$T/web.log" ||
    rc=$?
check "caller with only MESH_JOIN_TOKEN: certificate, then a token (exit $rc)" test "$rc" = 0
check "... the token is for web and bound to its new certificate" \
    bash -c "'$MESH' decode \"\$(cat '$T/web.token')\" | grep -q 'spiffe://mesh.local/web'"
check "... its certificate is on disk, key 0600" test "$(stat -c %a "$W/key.pem")" = 600
