#!/usr/bin/env bash
# What a CI pipeline runs: exchange a service token (no certificate) for a short-lived mesh
# JWT, then call a protected route with it. Secrets and tokens never appear on a command
# line (curl reads them from stdin), and are never printed unless --print-token asks.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: examples/ci-token.sh [--url URL] [--method M] [--audience AUD] [--scope S]
                            [--print-token] [--curl] [--help]

Exchanges the service token in MESH_CLIENT_ID / MESH_CLIENT_SECRET for a JWT at
MESH_ISSUER_URL (POST /v1/token, client_secret_basic), then calls URL with it. Uses
`mesh token` when the mesh CLI is available (MESH_CLI, or `mesh` on PATH), else curl.

  --url URL        the protected route to call (default: $GATEWAY_URL/ci/deploy)
  --method M       HTTP method for URL (default POST)
  --audience AUD   the token's audience (default gateway)
  --scope S        scopes to ask for (default: what the issuer's policy grants)
  --print-token    print only the JWT on stdout and exit (for `TOKEN=$(...)`)
  --curl           exchange with plain curl even when the mesh CLI is there

Environment:
  MESH_CLIENT_ID, MESH_CLIENT_SECRET   the service token (mesh-issuer token create NAME)
  MESH_ISSUER_URL                      https://HOST:PORT of mesh-issuer
  TLS_CA_PATH                          the mesh CA (or MESH_CERTS_DIR/ca.pem)
  GATEWAY_URL                          base URL for the default --url
  MESH_CLI                             the mesh CLI to use (default: `mesh` on PATH)

Output: "HTTP <status>" and the body. Exit status: 0 for a 2xx answer, 1 when the issuer
refused the service token or the route answered otherwise, 2 for usage errors.
EOF
}

url= method=POST audience=gateway scope= print_token=0 use_curl=0
while (($#)); do
    case $1 in
    --url) url=${2:?--url needs a URL}; shift ;;
    --method) method=${2:?--method needs a method}; shift ;;
    --audience) audience=${2:?--audience needs a name}; shift ;;
    --scope) scope=${2:?--scope needs scopes}; shift ;;
    --print-token) print_token=1 ;;
    --curl) use_curl=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; printf 'ci-token: unknown option %s\n' "$1" >&2; exit 2 ;;
    esac
    shift
done

fail() { printf 'ci-token: %s\n' "$*" >&2; exit "${CODE:-2}"; }

[[ -n ${MESH_CLIENT_ID:-} ]] || fail "set MESH_CLIENT_ID (from: mesh-issuer token create NAME)"
[[ -n ${MESH_CLIENT_SECRET:-} ]] || fail "set MESH_CLIENT_SECRET (printed once by token create)"
[[ ${MESH_ISSUER_URL:-} == https://* ]] || fail "set MESH_ISSUER_URL to https://HOST:PORT of mesh-issuer"
ca=${TLS_CA_PATH:-}
[[ -z $ca && -n ${MESH_CERTS_DIR:-} ]] && ca=$MESH_CERTS_DIR/ca.pem
[[ -n $ca && -r $ca ]] || fail "set TLS_CA_PATH to the mesh CA certificate (certs/ca.pem)"
if ((!print_token)) && [[ -z $url ]]; then
    [[ -n ${GATEWAY_URL:-} ]] || fail "give --url URL or set GATEWAY_URL"
    url=$GATEWAY_URL/ci/deploy
fi
command -v curl >/dev/null || fail "curl is needed"

body=$(mktemp)
trap 'rm -f "$body"' EXIT
mesh=${MESH_CLI:-$(command -v mesh || true)}

if ((!use_curl)) && [[ -n $mesh && -x $mesh ]]; then
    # `mesh token` reads MESH_CLIENT_ID / MESH_CLIENT_SECRET / MESH_ISSUER_URL itself.
    args=(token --audience "$audience")
    [[ -n $scope ]] && args+=(--scope "$scope")
    token=$(TLS_CA_PATH=$ca "$mesh" "${args[@]}" 2>"$body") ||
        CODE=1 fail "the issuer refused the service token: $(tr '\n' ' ' <"$body")"
else
    # The client credentials grant (RFC 6749 §4.4) with client_secret_basic; the credentials
    # go to curl through its config on stdin so `ps` never shows them.
    form=(--data-urlencode grant_type=client_credentials --data-urlencode "audience=$audience")
    [[ -n $scope ]] && form+=(--data-urlencode "scope=$scope")
    status=$(printf 'user = "%s:%s"\n' "$MESH_CLIENT_ID" "$MESH_CLIENT_SECRET" |
        curl -s -K - --cacert "$ca" "${form[@]}" -o "$body" -w '%{http_code}' \
            "$MESH_ISSUER_URL/v1/token") || CODE=1 fail "cannot reach the issuer at $MESH_ISSUER_URL"
    json=$(<"$body")
    if [[ $status != 200 ]]; then
        err=$(sed -n 's/.*"error":"\([^"]*\)".*/\1/p' <<<"$json")
        desc=$(sed -n 's/.*"error_description":"\([^"]*\)".*/\1/p' <<<"$json")
        CODE=1 fail "the issuer answered $status ${err:-}: ${desc:-$json}"
    fi
    token=$(sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' <<<"$json")
fi
[[ $token =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] ||
    CODE=1 fail "the issuer's answer has no access token"

if ((print_token)); then
    printf '%s\n' "$token"
    exit 0
fi

status=$(printf 'header = "Authorization: Bearer %s"\n' "$token" |
    curl -s -K - --cacert "$ca" -X "$method" -o "$body" -w '%{http_code}' "$url") ||
    CODE=1 fail "cannot reach $url"
printf 'HTTP %s\n' "$status"
cat "$body"
[[ $status == 2* ]] || exit 1
