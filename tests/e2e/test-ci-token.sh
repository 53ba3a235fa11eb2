#!/usr/bin/env bash
# examples/ci-token.sh, the CI pipeline's view: a service token exchanged for a JWT (with
# `mesh token` and with plain curl), --print-token prints only the JWT, a wrong secret is
# refused without being echoed, and a service token's JWT opens only the /ci/ route.
. "$(dirname "$0")/lib.sh"

CI=$MESH_SOURCE_ROOT/examples/ci-token.sh
mesh_up
set -a
# shellcheck disable=SC1091
. "$T/demo/ci.env"
set +a
export TLS_CA_PATH=$MESH_CERTS_DIR/ca.pem MESH_CLI=$B/libmesh/cli/mesh

out=$("$CI" --url "$GATEWAY_URL/ci/deploy" 2>&1) || true
check "with mesh token: POST /ci/deploy is 200 as svc-token:ci" \
    eval '[[ $out == "HTTP 200"* && $out == *'"'"'"caller":"svc-token:ci"'"'"'* ]]'
out=$("$CI" --curl --url "$GATEWAY_URL/ci/deploy" 2>&1) || true
check "with curl: POST /ci/deploy is 200 as svc-token:ci" \
    eval '[[ $out == "HTTP 200"* && $out == *svc-token:ci* ]]'
tok=$("$CI" --print-token 2>/dev/null) || tok=
check "--print-token prints one JWT and nothing else" \
    eval '[[ $tok =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]]'
tok=$("$CI" --curl --print-token 2>/dev/null) || tok=
check "--curl --print-token prints one JWT" \
    eval '[[ $tok =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]]'

rc=0
out=$("$CI" --curl --url "$GATEWAY_URL/assets/1" --method GET 2>&1) || rc=$?
check "a service token's JWT does not open a certificate-only route (401, exit 1)" \
    eval '[[ $rc == 1 && $out == "HTTP 401"* ]]'

rc=0
out=$(MESH_CLIENT_SECRET=mss_wrong-secret-value "$CI" --curl 2>&1) || rc=$?
check "a wrong secret: exit 1 with invalid_client" eval '[[ $rc == 1 && $out == *invalid_client* ]]'
check "... and the secret is not echoed" eval '[[ $out != *mss_wrong-secret-value* ]]'
rc=0
out=$(MESH_CLIENT_SECRET=mss_wrong-secret-value "$CI" 2>&1) || rc=$?
check "a wrong secret with mesh token: exit 1" eval '[[ $rc == 1 && $out == *invalid_client* ]]'

rc=0
out=$(env -u MESH_CLIENT_ID "$CI" 2>&1) || rc=$?
check "no MESH_CLIENT_ID: exit 2 naming the variable" eval '[[ $rc == 2 && $out == *MESH_CLIENT_ID* ]]'
