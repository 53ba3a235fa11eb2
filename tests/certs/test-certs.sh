#!/usr/bin/env bash
# Online certificate issuance end to end (docs/CERTIFICATES.md): a real mesh-ca mints the mesh
# and the issuing CA, a real mesh-issuer on 127.0.0.1 signs CSRs made by openssl, curl is the
# client. Every process started here is stopped by its PID. TAP output.
set -euo pipefail

CERTS_TMP=mesh-certs
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

C=$T/certs
NOW=$(date +%s)
PAST=$((NOW - 3 * 86400))

# ---- the mesh: minted three days ago, svc-b's certificate lived one day (expired now) ----
cat >"$T/mesh.json" <<'EOF'
{
  "trust_domain": "mesh.local",
  "development": true,
  "services": [
    {"name": "issuer"},
    {"name": "svc-a"},
    {"name": "svc-b", "days": 1}
  ]
}
EOF
"$MESH_CA" init --template "$T/mesh.json" --dir "$C" --now "$PAST" >"$T/init.log" 2>&1 ||
    { cat "$T/init.log"; exit 1; }
check "mesh-ca issuer-ca mints the issuing CA" \
    bash -c "'$MESH_CA' issuer-ca --dir '$C' --json >'$T/issuer-ca.json'"
check "the issuing CA key is 0600" test "$(stat -c %a "$C/issuing-ca.key")" = 600
check "the issuing CA chains to the root" \
    openssl verify -CAfile "$C/ca.pem" "$C/issuing-ca.pem"
check "mesh-ca issuer-ca refuses to replace it without --force" \
    bash -c "! '$MESH_CA' issuer-ca --dir '$C' >/dev/null 2>&1"

PORT=$(free_port)
URL=https://127.0.0.1:$PORT
cat >"$T/issuer.json" <<EOF
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
    "min_lifetime": 60, "default_lifetime": 86400,
    "services": [
      {"name": "newsvc", "dns": ["newsvc", "localhost"], "ips": ["127.0.0.1"], "lifetime": 3600},
      {"name": "svc-a"},
      {"name": "svc-b"}
    ]
  }
}
EOF
ISS=("$ISSUER")
check "--check-config explains the certificates section" \
    bash -c "'$ISSUER' --check-config --config '$T/issuer.json' | grep -q 'certificates: signed by .*issuing-ca.pem for spiffe://mesh.local/<service>'"
chmod 0644 "$C/issuing-ca.key"
check "--check-config refuses an issuing CA key readable by others" \
    bash -c "! '$ISSUER' --check-config --config '$T/issuer.json' >/dev/null 2>&1"
chmod 0600 "$C/issuing-ca.key"
"$ISSUER" serve --config "$T/issuer.json" >"$T/issuer.log" 2>&1 &
PIDS+=("$!")
IPID=$!
up=0
for ((i = 0; i < 200; i++)); do
    if curl -sf -o /dev/null --cacert "$C/ca.pem" "$URL/healthz"; then
        up=1
        break
    fi
    sleep 0.1
done
check "mesh-issuer with a certificates section starts" test "$up" = 1
((up)) || exit 1

cli() { "${ISS[@]}" "$@" --config "$T/issuer.json"; }

# POST /v1/certificate with the CSR file $1 and curl options after it; body to $T/out.json,
# prints the HTTP status.
post_csr() {
    local csr=$1
    shift
    jq -n --rawfile csr "$csr" '{csr: $csr}' >"$T/body.json"
    curl -s --cacert "$C/ca.pem" -H 'Content-Type: application/json' \
        --data-binary "@$T/body.json" -o "$T/out.json" -w '%{http_code}' "$@" \
        "$URL/v1/certificate" || true
}

csr_p256() { # name, CN, SANs
    openssl ecparam -name prime256v1 -genkey -noout -out "$T/$1.key" 2>/dev/null
    openssl req -new -key "$T/$1.key" -subj "/CN=$2" -addext "subjectAltName=$3" \
        -out "$T/$1.csr" 2>/dev/null
}

desc_has() { jq -e --arg s "$1" '.error_description | contains($s)' "$T/out.json" >/dev/null; }
err_is() { jq -e --arg s "$1" '.error == $s' "$T/out.json" >/dev/null; }

# ---- first issuance with a join token ----
cli join-token create --service newsvc --ttl 1h --json >"$T/jt.json"
JT=$(jq -r .token "$T/jt.json")
check "join-token create prints mjt_ + 43 base64url characters" \
    grep -Eq '^mjt_[A-Za-z0-9_-]{43}$' <<<"$JT"
check "the store keeps no join token in the clear" \
    bash -c "! grep -aq '${JT#mjt_}' '$T/issuer.db'"

csr_p256 first newsvc "URI:spiffe://mesh.local/newsvc,DNS:newsvc"
st=$(post_csr "$T/first.csr" -H "Mesh-Join-Token: $JT")
check "join token -> 200 (got $st)" test "$st" = 200
jq -r .certificate "$T/out.json" >"$T/first.pem"
jq -r .chain "$T/out.json" >"$T/first-chain.pem"
cp "$T/out.json" "$T/first.json"
check "the leaf verifies to the root through the issuing CA" \
    openssl verify -CAfile "$C/ca.pem" -untrusted "$C/issuing-ca.pem" "$T/first.pem"
check "chain is the leaf then the issuing CA" \
    bash -c "openssl crl2pkcs7 -nocrl -certfile '$T/first-chain.pem' | openssl pkcs7 -print_certs -noout | grep -c '^subject=' | grep -qx 2"
check "spiffe_id is spiffe://mesh.local/newsvc" \
    jq -e '.spiffe_id == "spiffe://mesh.local/newsvc"' "$T/first.json"
check "the certificate carries the SPIFFE ID as URI SAN" \
    bash -c "openssl x509 -in '$T/first.pem' -noout -ext subjectAltName | grep -q 'URI:spiffe://mesh.local/newsvc'"
check "the certificate carries the names the policy gives (localhost, 127.0.0.1)" \
    bash -c "openssl x509 -in '$T/first.pem' -noout -ext subjectAltName | grep -q 'DNS:localhost' &&
             openssl x509 -in '$T/first.pem' -noout -ext subjectAltName | grep -q 'IP Address:127.0.0.1'"
check "EKU serverAuth + clientAuth" \
    bash -c "openssl x509 -in '$T/first.pem' -noout -ext extendedKeyUsage | grep -q 'TLS Web Server Authentication, TLS Web Client Authentication'"
check "lifetime is the service's policy (3600 s, notBefore backdated 60 s)" \
    jq -e '.not_after - .not_before == 3660' "$T/first.json"
check "serial in the response is the certificate's" \
    test "$(openssl x509 -in "$T/first.pem" -noout -serial | cut -d= -f2 | tr A-F a-f | sed 's/^0*//')" = \
    "$(jq -r .serial "$T/first.json" | sed 's/^0*//')"
check "the certificate's key is the CSR's" \
    test "$(openssl x509 -in "$T/first.pem" -noout -pubkey)" = "$(openssl pkey -in "$T/first.key" -pubout)"

st=$(post_csr "$T/first.csr" -H "Mesh-Join-Token: $JT")
check "the same join token a second time -> 401 (got $st)" test "$st" = 401
check "... invalid_client" err_is invalid_client

cli join-token create --service svc-a --ttl 1s --json >"$T/jt2.json"
sleep 2
csr_p256 late svc-a "URI:spiffe://mesh.local/svc-a"
st=$(post_csr "$T/late.csr" -H "Mesh-Join-Token: $(jq -r .token "$T/jt2.json")")
check "an expired join token -> 401 (got $st)" test "$st" = 401

st=$(post_csr "$T/late.csr" -H "Mesh-Join-Token: mjt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
check "an unknown join token -> 401 (got $st)" test "$st" = 401

# Two concurrent uses of one join token: one wins.
cli join-token create --service svc-a --ttl 1h --json >"$T/jt3.json"
JT3=$(jq -r .token "$T/jt3.json")
jq -n --rawfile csr "$T/late.csr" '{csr: $csr}' >"$T/race.json"
RACE=()
for n in 1 2 3 4; do
    curl -s --cacert "$C/ca.pem" -H 'Content-Type: application/json' -H "Mesh-Join-Token: $JT3" \
        --data-binary "@$T/race.json" -o /dev/null -w '%{http_code}\n' "$URL/v1/certificate" \
        >"$T/race.$n" &
    RACE+=("$!")
done
for pid in "${RACE[@]}"; do
    wait "$pid" || true
done
check "four concurrent uses of one join token: exactly one 200" \
    test "$(cat "$T"/race.* | grep -c '^200$')" = 1
check "... and three 401" test "$(cat "$T"/race.* | grep -c '^401$')" = 3

# ---- renewal with the current certificate ----
csr_p256 renew newsvc "URI:spiffe://mesh.local/newsvc,DNS:localhost"
st=$(post_csr "$T/renew.csr" --cert "$T/first-chain.pem" --key "$T/first.key")
check "renewal with the current certificate -> 200 (got $st)" test "$st" = 200
cp "$T/out.json" "$T/renew.json"
jq -r .certificate "$T/renew.json" >"$T/renew.pem"
jq -r .chain "$T/renew.json" >"$T/renew-chain.pem"
check "renewal keeps the SPIFFE ID" jq -e '.spiffe_id == "spiffe://mesh.local/newsvc"' "$T/renew.json"
check "renewal has a new serial" test "$(jq -r .serial "$T/renew.json")" != "$(jq -r .serial "$T/first.json")"
check "renewal certifies the new key" \
    test "$(openssl x509 -in "$T/renew.pem" -noout -pubkey)" = "$(openssl pkey -in "$T/renew.key" -pubout)"

csr_p256 other newsvc "URI:spiffe://mesh.local/svc-b"
st=$(post_csr "$T/other.csr" --cert "$T/renew-chain.pem" --key "$T/renew.key")
check "renewal into another identity -> 400 (got $st)" test "$st" = 400
check "... naming the SPIFFE ID asked for" desc_has "URI:spiffe://mesh.local/svc-b"

csr_p256 extra newsvc "URI:spiffe://mesh.local/newsvc,DNS:evil.example"
st=$(post_csr "$T/extra.csr" --cert "$T/renew-chain.pem" --key "$T/renew.key")
check "a CSR with an extra SAN -> 400 (got $st)" test "$st" = 400
check "... naming it" desc_has "DNS:evil.example"

openssl req -new -newkey rsa:1024 -nodes -keyout "$T/weak.key" -subj /CN=newsvc \
    -out "$T/weak.csr" 2>/dev/null
st=$(post_csr "$T/weak.csr" --cert "$T/renew-chain.pem" --key "$T/renew.key")
check "a CSR with an RSA-1024 key -> 400 (got $st)" test "$st" = 400
check "... saying the key is too small" desc_has "RSA of 1024 bits"

openssl req -new -newkey rsa:2048 -nodes -keyout "$T/bad.key" -subj /CN=newsvc \
    -outform DER -out "$T/bad.der" 2>/dev/null
python3 - "$T/bad.der" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
b[-1] ^= 0x01  # the last byte of the signature
open(p, 'wb').write(bytes(b))
EOF
openssl req -inform DER -in "$T/bad.der" -out "$T/bad.csr" 2>/dev/null
st=$(post_csr "$T/bad.csr" --cert "$T/renew-chain.pem" --key "$T/renew.key")
check "a CSR whose signature is broken -> 400 (got $st)" test "$st" = 400
check "... saying the signature does not verify" desc_has "signature does not verify"

printf '{"csr": "x", "lifetime": 99}' >"$T/body.json"
st=$(curl -s --cacert "$C/ca.pem" -H 'Content-Type: application/json' --data-binary "@$T/body.json" \
    -o "$T/out.json" -w '%{http_code}' --cert "$T/renew-chain.pem" --key "$T/renew.key" \
    "$URL/v1/certificate" || true)
check "an unknown member -> 400 naming it (got $st)" bash -c "test '$st' = 400 && grep -q lifetime '$T/out.json'"

# ---- an expired certificate (mesh-ca's svc-b, one day, three days ago) ----
csr_p256 exp svc-b "URI:spiffe://mesh.local/svc-b"
st=$(post_csr "$T/exp.csr" --cert "$C/svc-b/cert.pem" --key "$C/svc-b/key.pem")
check "renewal with an expired certificate -> 403 (got $st)" test "$st" = 403
check "... access_denied saying it has expired" \
    bash -c "jq -e '.error == \"access_denied\"' '$T/out.json' >/dev/null && grep -q expired '$T/out.json'"

# mesh-ca's own valid leaf renews into the online CA too
csr_p256 a svc-a "URI:spiffe://mesh.local/svc-a"
st=$(post_csr "$T/a.csr" --cert "$C/svc-a/cert.pem" --key "$C/svc-a/key.pem")
check "a mesh-ca certificate renews online (got $st)" test "$st" = 200

# ---- revocation: its tokens, the CRL, no renewal ----
SERIAL=$(jq -r .serial "$T/renew.json")
tok=$(curl -s --cacert "$C/ca.pem" --cert "$T/renew-chain.pem" --key "$T/renew.key" \
    -d grant_type=client_credentials -d audience=svc-b "$URL/v1/token" | jq -r .access_token)
check "the renewed certificate gets tokens" test "${#tok}" -gt 100
X5T=$(openssl x509 -in "$T/renew.pem" -outform DER | openssl dgst -sha256 -binary | base64 -w0 |
    tr '+/' '-_' | tr -d '=')
rrc=0
cli cert revoke "$SERIAL" >"$T/revoke.out" 2>"$T/revoke.err" || rrc=$?
check "cert revoke SERIAL (exit $rrc)" test "$rrc" = 0
check "... audited as certificate_revoked" grep -q '"outcome":"certificate_revoked"' "$T/revoke.err"
st=$(post_csr "$T/renew.csr" --cert "$T/renew-chain.pem" --key "$T/renew.key")
check "renewal with a revoked certificate -> 403 (got $st)" test "$st" = 403
check "... access_denied" err_is access_denied
check "its tokens are revoked: the feed lists its x5t#S256" \
    bash -c "curl -s --cacert '$C/ca.pem' '$URL/v1/revocations?since=0' | jq -e --arg x '$X5T' '[.revoked[][\"x5t#S256\"]] | index(\$x) != null' >/dev/null"
curl -s --cacert "$C/ca.pem" "$URL/v1/crl" >"$T/crl.pem"
check "GET /v1/crl is a CRL of the issuing CA" \
    openssl crl -in "$T/crl.pem" -noout -CAfile "$C/issuing-ca.pem"
check "... listing the revoked serial" \
    bash -c "openssl crl -in '$T/crl.pem' -noout -text | tr A-F a-f | grep -qi 'serial number: 0*${SERIAL#0}'"
check "certificates.crl (the file) lists it too" \
    bash -c "openssl crl -in '$T/issuing-crl.pem' -noout -text | tr A-F a-f | grep -qi 'serial number: 0*${SERIAL#0}'"
kill -HUP "$IPID"
tls_refuses() {
    curl -s --cacert "$C/ca.pem" --cert "$T/renew-chain.pem" --key "$T/renew.key" \
        -d grant_type=client_credentials -d audience=svc-b "$URL/v1/token" | grep -q 'revoked'
}
ok_tls=1
for ((i = 0; i < 100; i++)); do
    if tls_refuses; then ok_tls=0; break; fi
    sleep 0.2
done
check "after a reload the TLS verdict refuses the revoked certificate" test "$ok_tls" = 0

# ---- inventory, metrics, audit ----
cli cert list --json >"$T/list.json"
check "cert list --json lists the revoked certificate as revoked" \
    jq -e --arg s "$SERIAL" '[.[] | select(.serial == $s and .status == "revoked")] | length == 1' "$T/list.json"
check "cert list --json lists the first one as valid, with identity and expiry" \
    jq -e --arg s "$(jq -r .serial "$T/first.json")" \
    '[.[] | select(.serial == $s and .status == "valid" and .spiffe_id == "spiffe://mesh.local/newsvc" and .not_after > 0)] | length == 1' "$T/list.json"
check "cert list (text) names the serial" grep -q "$SERIAL" <(cli cert list)
cli join-token list --json >"$T/jlist.json"
check "join-token list --json shows the used token" \
    jq -e --arg id "$(jq -r .id "$T/jt.json")" '[.[] | select(.id == $id and .status == "used")] | length == 1' "$T/jlist.json"
curl -s --cacert "$C/ca.pem" "$URL/metrics" >"$T/metrics.txt"
check "metrics: certificates issued by join token" \
    grep -Eq '^mesh_issuer_certificates_issued_total\{auth_method="join_token"\} 2$' "$T/metrics.txt"
check "metrics: certificates issued by renewal" \
    grep -Eq '^mesh_issuer_certificates_issued_total\{auth_method="renewal"\} 2$' "$T/metrics.txt"
check "metrics: refusals by reason" \
    bash -c "grep -Eq '^mesh_issuer_certificates_refused_total\{reason=\"invalid_client\"\} [5-9]' '$T/metrics.txt' &&
             grep -Eq '^mesh_issuer_certificates_refused_total\{reason=\"invalid_request\"\} [5-9]' '$T/metrics.txt' &&
             grep -Eq '^mesh_issuer_certificates_refused_total\{reason=\"access_denied\"\} 2' '$T/metrics.txt'"
check "audit: a certificate_issued line with the serial" \
    grep -q "\"outcome\":\"certificate_issued\".*\"serial\":\"$(jq -r .serial "$T/first.json")\"" "$T/issuer.log"
check "audit: certificate_denied lines" grep -q '"outcome":"certificate_denied"' "$T/issuer.log"
check "no join token in the issuer's log" bash -c "! grep -q '$JT' '$T/issuer.log'"
check "RFC 8414 metadata names the certificate endpoint" \
    bash -c "curl -s --cacert '$C/ca.pem' '$URL/.well-known/oauth-authorization-server' | jq -e --arg u '$URL/v1/certificate' '.mesh_certificate_endpoint == \$u' >/dev/null"

# ---- rate-limited like the token endpoint: the caller's identity bucket ----
jq '.rate_limits.per_identity = {"rate": 0.001, "burst": 2}' "$T/issuer.json" >"$T/issuer.json.new"
mv "$T/issuer.json.new" "$T/issuer.json"
kill -HUP "$IPID"
printf '{"csr": "x"}' >"$T/junk.json"
limited=1
for ((i = 0; i < 50; i++)); do
    st=$(curl -s --cacert "$C/ca.pem" -H 'Content-Type: application/json' \
        --data-binary "@$T/junk.json" -D "$T/headers.txt" -o "$T/out.json" -w '%{http_code}' \
        --cert "$C/svc-a/cert.pem" --key "$C/svc-a/key.pem" "$URL/v1/certificate" || true)
    if [[ $st == 429 ]]; then limited=0; break; fi
    sleep 0.2
done
check "an empty identity bucket -> 429 slow_down" bash -c "test $limited = 0 && jq -e '.error == \"slow_down\"' '$T/out.json'"
check "... with Retry-After" grep -qi '^retry-after: [0-9]' "$T/headers.txt"

# ---- without a certificates section (reloaded): 404 saying why ----
jq 'del(.certificates)' "$T/issuer.json" >"$T/issuer.json.new"
mv "$T/issuer.json.new" "$T/issuer.json"
kill -HUP "$IPID"
no_certs() {
    st=$(post_csr "$T/renew.csr" -H "Mesh-Join-Token: $JT")
    [[ $st == 404 ]]
}
reloaded=1
for ((i = 0; i < 100; i++)); do
    if no_certs; then reloaded=0; break; fi
    sleep 0.2
done
check "without a certificates section POST /v1/certificate -> 404" test "$reloaded" = 0
check "... saying the issuer does not sign certificates" desc_has "does not sign certificates"
check "... GET /v1/crl -> 404" \
    test "$(curl -s --cacert "$C/ca.pem" -o /dev/null -w '%{http_code}' "$URL/v1/crl")" = 404
check "... the metadata has no mesh_certificate_endpoint" \
    bash -c "curl -s --cacert '$C/ca.pem' '$URL/.well-known/oauth-authorization-server' | jq -e 'has(\"mesh_certificate_endpoint\") | not' >/dev/null"
check "... cert list says the config has no certificates section (exit 1)" \
    bash -c "'$ISSUER' cert list --config '$T/issuer.json' 2>&1 >/dev/null | grep -q 'no certificates section'; test \${PIPESTATUS[0]} = 1"
