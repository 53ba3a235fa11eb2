#!/usr/bin/env bash
# The verifier against a real, independent OpenID provider: panva's oidc-provider (npm, pinned
# in package-lock.json, installed by ./dev deps) started here over HTTPS on 127.0.0.1 with a
# port the OS picks and a certificate from a CA made here; tokens from its token endpoint by
# curl (client_credentials + resource indicators); the checks in test-idp-driver.c, which
# stops the provider by its PID. Fails (never skips) when node or the provider is missing.
#
# usage: test-idp.sh DRIVER   (run by meson test: MESH_SOURCE_ROOT is set)
set -euo pipefail

: "${MESH_SOURCE_ROOT:?run through meson test (MESH_SOURCE_ROOT)}"
DRIVER=${1:?usage: test-idp.sh DRIVER}
HERE=$MESH_SOURCE_ROOT/tests/idp

if ! command -v node >/dev/null; then
    echo "FAIL: node is missing: run ./dev deps (it installs nodejs and the test provider)" >&2
    exit 1
fi
if [[ ! -f $HERE/node_modules/oidc-provider/package.json ]]; then
    echo "FAIL: oidc-provider is not installed in tests/idp/node_modules: run ./dev deps" >&2
    exit 1
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/mesh-idp.XXXXXX")
PROVIDER_PID=
cleanup() {
    local i
    if [[ -n $PROVIDER_PID ]]; then
        kill -TERM "$PROVIDER_PID" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            kill -0 "$PROVIDER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$PROVIDER_PID" 2>/dev/null || true
    fi
    rm -rf "$T"
}
trap cleanup EXIT

# A test CA and the provider's certificate (SAN IP:127.0.0.1), valid for a day.
(
    cd "$T"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
        -out ca.pem -subj /CN=idp-test-ca -days 1 \
        -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout idp.key -out idp.csr \
        -subj /CN=127.0.0.1
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:false\n' \
        >idp.ext
    openssl x509 -req -in idp.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out idp.pem -days 1 \
        -extfile idp.ext
) >"$T/openssl.log" 2>&1 || { cat "$T/openssl.log" >&2; exit 1; }

node "$HERE/provider.mjs" "$T/idp.pem" "$T/idp.key" "$T/ready" >"$T/provider.log" 2>&1 &
PROVIDER_PID=$!
for ((i = 0; i < 300; i++)); do
    [[ -f $T/ready ]] && break
    kill -0 "$PROVIDER_PID" 2>/dev/null || break
    sleep 0.1
done
if [[ ! -f $T/ready ]]; then
    echo "FAIL: the provider did not start; its log:" >&2
    cat "$T/provider.log" >&2
    exit 1
fi
ISSUER=$(jq -er .issuer "$T/ready")
echo "# oidc-provider $(jq -r .version "$HERE/node_modules/oidc-provider/package.json") at $ISSUER (pid $PROVIDER_PID)"

# token NAME RESOURCE SCOPE: an access token from the provider's token endpoint into $T/tokens.
mkdir "$T/tokens"
token() {
    curl -sS --fail-with-body --cacert "$T/ca.pem" -u svc-client:svc-client-secret-for-tests-only \
        -d grant_type=client_credentials --data-urlencode "resource=$2" \
        --data-urlencode "scope=$3" "$ISSUER/token" >"$T/tokens/$1.json"
    jq -er .access_token "$T/tokens/$1.json" >"$T/tokens/$1"
}
token asset https://asset.test/ read
token asset2 https://asset.test/ read
token jobs https://jobs.test/ "read write"
token profile https://profile.test/ read

rc=0
"$DRIVER" "$ISSUER" "$T/ca.pem" "$T/tokens" "$PROVIDER_PID" || rc=$?
if ((rc != 0)); then
    echo "# provider log:" >&2
    cat "$T/provider.log" >&2
fi
exit "$rc"
