#!/usr/bin/env bash
# `mesh verify` against one hand-built hostile token per rule of DESIGN.md "Verification
# rules". Tokens are forged with the openssl CLI, independently of libmesh, and each must be
# rejected with its own reason code. Usage: verify-hostile.sh MESH_BINARY
set -uo pipefail
MESH=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

pass=0 fail=0
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); printf 'FAIL: %s\n' "$*"; }

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem 2>/dev/null
openssl pkey -in key.pem -pubout -out pub.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out other.pem 2>/dev/null
"$MESH" jwks pub.pem >jwks.json || { echo "FAIL: mesh jwks"; exit 1; }
kid=$(sed -n 's/.*"kid": *"\([^"]*\)".*/\1/p' jwks.json)
[[ ${#kid} == 43 ]] || { echo "FAIL: no 43-char thumbprint kid in jwks.json"; exit 1; }

mkcert() { # name -> name.pem
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
        -out "$1.pem" -days 2 -subj "/CN=$1" 2>/dev/null
}
mkcert alice
mkcert mallory
x5t=$(openssl x509 -in alice.pem -outform DER | openssl dgst -sha256 -binary | b64url)

NOW=1700000000
ISS=https://issuer.mesh.local
claims() { # extra JSON members (may override), as a claims object
    printf '{"iss":"%s","sub":"spiffe://mesh.local/web-service","aud":"gateway","iat":%d,"nbf":%d,"exp":%d,"jti":"j1","scope":"read write","client_id":"web-service","cnf":{"x5t#S256":"%s"}%s}' \
        "$ISS" $NOW $NOW $((NOW + 300)) "$x5t" "${1:-}"
}
header() { printf '{"alg":"RS256","typ":"at+jwt","kid":"%s"%s}' "$kid" "${1:-}"; }
# sign HEADER_JSON CLAIMS_JSON [key] -> compact RS256 token
sign() {
    local h p
    h=$(printf '%s' "$1" | b64url)
    p=$(printf '%s' "$2" | b64url)
    printf '%s.%s.%s' "$h" "$p" \
        "$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "${3:-key.pem}" -binary | b64url)"
}
# expect CODE TOKEN [extra mesh verify args]
expect() {
    local code=$1 token=$2 out
    shift 2
    out=$("$MESH" verify - --jwks jwks.json --issuer "$ISS" --audience gateway --now $NOW \
        --cert alice.pem "$@" <<<"$token" 2>&1 >/dev/null)
    local rc=$?
    if [[ $code == ok ]]; then
        [[ $rc == 0 ]] && ok || bad "valid token rejected: $out"
    elif [[ $rc == 1 && $out == *"$code: "* ]]; then
        ok
    else
        bad "expected $code (exit 1), got exit $rc: $out"
    fi
}

good=$(sign "$(header)" "$(claims)")
expect ok "$good"

# Algorithm: never none, never HMAC with the public key, never other than the key's own.
h=$(printf '{"alg":"none","typ":"at+jwt","kid":"%s"}' "$kid" | b64url)
p=$(claims | b64url)
expect alg_not_allowed "$h.$p."
h=$(printf '{"alg":"HS256","typ":"at+jwt","kid":"%s"}' "$kid" | b64url)
mac=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -hmac "$(cat pub.pem)" -binary | b64url)
expect alg_not_allowed "$h.$p.$mac"
h=$(printf '{"alg":"PS256","typ":"at+jwt","kid":"%s"}' "$kid" | b64url)
pss=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign key.pem -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:32 -binary | b64url)
expect alg_not_allowed "$h.$p.$pss"

# kid and header members that would fetch or embed keys.
expect kid_missing "$(sign '{"alg":"RS256","typ":"at+jwt"}' "$(claims)")"
expect kid_unknown "$(sign '{"alg":"RS256","typ":"at+jwt","kid":"nope"}' "$(claims)")"
expect header_forbidden "$(sign "$(header ',"crit":["exp"]')" "$(claims)")"
expect header_forbidden "$(sign "$(header ',"jku":"https://evil.example/jwks"')" "$(claims)")"
expect header_forbidden "$(sign "$(header ',"x5u":"https://evil.example/cert"')" "$(claims)")"
expect header_forbidden "$(sign "$(header ',"jwk":{"kty":"oct","k":"AAAA"}')" "$(claims)")"
expect header_forbidden "$(sign "$(header ',"x5c":["MIIB"]')" "$(claims)")"
expect typ_invalid "$(sign '{"alg":"RS256","typ":"JWT","kid":"'"$kid"'"}' "$(claims)")"

# Shape: base64url, JSON, parts, size, depth, duplicates, UTF-8.
expect malformed_base64url "${good%%.*}=.${good#*.}"
expect malformed_json "$(sign "$(header)" '{"iss":')"
expect duplicate_json_member "$(sign "$(header)" "$(claims ',"aud":"gateway"')")"
expect duplicate_json_member "$(sign "$(header ',"kid":"'"$kid"'"')" "$(claims)")"
expect token_malformed "${good%.*}"
expect token_malformed "$good.AAAA"
expect token_encrypted "$good.AAAA.BBBB"
expect json_serialization '{"payload":"e30","signatures":[]}'
big=$(head -c 9000 /dev/zero | tr '\0' 'a')
expect token_too_large "$(sign "$(header)" "$(claims ",\"pad\":\"$big\"")")"
expect json_too_deep "$(sign "$(header)" "$(claims ',"x":[[[[[[[[[[[[1]]]]]]]]]]]]')")"
expect invalid_utf8 "$(sign "$(header)" "$(claims "$(printf ',"name":"\xc3\x28"')")")"
expect signature_invalid "$(sign "$(header)" "$(claims)" other.pem)"

# Claims.
expect claim_type "$(sign "$(header)" "$(claims ',"exp":1700000300.5' | sed 's/"exp":1700000300,//')")"
expect claim_type "$(sign "$(header)" "$(claims | sed 's/"iat":1700000000/"iat":"1700000000"/')")"
expect claim_missing "$(sign "$(header)" "$(claims | sed 's/"jti":"j1",//')")"
expect issuer_mismatch "$(sign "$(header)" "$(claims | sed 's|"iss":"[^"]*"|"iss":"https://evil.example"|')")"
expect audience_mismatch "$(sign "$(header)" "$(claims | sed 's/"aud":"gateway"/"aud":"asset-service"/')")"
expect audience_mismatch "$(sign "$(header)" "$(claims | sed 's/"aud":"gateway"/"aud":"gate"/')")"
expect token_expired "$good" --now $((NOW + 300 + 31))
expect ok "$good" --now $((NOW + 300 + 29))
expect token_not_yet_valid "$good" --now $((NOW - 31))
expect iat_in_future "$(sign "$(header)" "$(claims | sed "s/\"iat\":$NOW/\"iat\":$((NOW + 60))/")")"
expect lifetime_too_long "$(sign "$(header)" "$(claims | sed "s/\"exp\":$((NOW + 300))/\"exp\":$((NOW + 601))/")")"
printf '{"seq":1,"revoked":[{"jti":"j1","exp":%d}]}' $((NOW + 300)) >revoked.json
expect token_revoked "$good" --revocations revoked.json
# The feed file is read as libmesh reads untrusted JSON (mesh_json_parse): a duplicate member
# or nesting past MESH_MAX_JSON_DEPTH is a usage error (exit 2) naming the file, not a feed.
usage_error() { # what FILE
    local out rc
    out=$("$MESH" verify - --jwks jwks.json --issuer "$ISS" --audience gateway --now $NOW \
        --cert alice.pem --revocations "$2" <<<"$good" 2>&1 >/dev/null)
    rc=$?
    [[ $rc == 2 && $out == *"$2: not a revocation feed"* ]] && ok ||
        bad "$1 feed: expected exit 2 naming $2, got exit $rc: $out"
}
printf '{"seq":1,"revoked":[],"revoked":[{"jti":"j1","exp":%d}]}' $((NOW + 300)) >dup.json
usage_error duplicate-member dup.json
printf '{"seq":1,"revoked":[],"x":[[[[[[[[[1]]]]]]]]]}' >deep.json
usage_error too-deep deep.json
expect cnf_mismatch "$good" --cert mallory.pem
expect cnf_missing "$(sign "$(header)" "$(claims | sed 's/,"cnf":{[^}]*}//')")"
expect insufficient_scope "$good" --scope admin
expect ok "$good" --scope write

echo "$pass passed, $fail failed"
((fail == 0))
