# Shared helpers for the mesh-ca end-to-end tests (sourced; bash).
set -euo pipefail

MESH_CA=${MESH_BUILD_ROOT:?MESH_BUILD_ROOT not set}/ca/mesh-ca
SRC=${MESH_SOURCE_ROOT:?MESH_SOURCE_ROOT not set}
TEMPLATE=$SRC/certs-templates/mesh.json
SERVICES="gateway auth-service asset-service chat-service web-service issuer"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mesh-ca-test.XXXXXX")
PIDS=()

cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

# Runs mesh-ca, expecting exit status $1; output in $WORK/out, $WORK/err.
expect() {
    local want=$1 got=0
    shift
    "$MESH_CA" "$@" >"$WORK/out" 2>"$WORK/err" || got=$?
    if [[ $got != "$want" ]]; then
        echo "--- stdout" >&2; cat "$WORK/out" >&2
        echo "--- stderr" >&2; cat "$WORK/err" >&2
        fail "mesh-ca $* exited $got, expected $want"
    fi
}

# Asserts that a file contains a fixed string.
has() { grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "$1 lacks \"$2\""; }; }

mode_of() { stat -c %a "$1"; }

# A fingerprint of every file (name, mode, content) under a directory.
tree_sum() { (cd "$1" && find . -type f -printf '%p %m\n' | sort && find . -type f -print0 | sort -z | xargs -0 -r sha256sum); }

# Public key of a certificate vs. of a private key, as DER hashes.
cert_pub() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum; }
key_pub() { openssl pkey -in "$1" -pubout -outform DER | sha256sum; }

verify_service() { # dir service
    openssl verify -CAfile "$1/ca.pem" -untrusted "$1/intermediate.pem" "$1/$2/cert.pem" \
        >/dev/null || fail "openssl verify $1/$2/cert.pem"
}
