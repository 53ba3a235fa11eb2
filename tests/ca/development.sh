#!/usr/bin/env bash
# Template "development": true gives every leaf the loopback SANs (DNS:localhost, IP:127.0.0.1)
# and says so; false gives a leaf only its own name, the template's names and its SPIFFE ID,
# so no service of the mesh can answer as another on loopback. Checked on the issued
# certificates themselves (openssl x509 -ext subjectAltName).
. "$(dirname "$0")/lib.sh"

# The SANs of a certificate, one per line, sorted ("DNS:x", "IP Address:x", "URI:x").
sans_of() {
    openssl x509 -in "$1" -noout -ext subjectAltName | tail -n +2 | tr ',' '\n' |
        sed 's/^ *//' | sort
}
no_loopback() { # cert
    if sans_of "$1" | grep -Eq '^(DNS:localhost|IP Address:127\.0\.0\.1)$'; then
        sans_of "$1" >&2
        fail "$1 carries a loopback SAN outside development"
    fi
}

# --- development: true (the default template) ---
expect 0 init --template "$TEMPLATE" --dir dev
has out "development mesh: every service certificate is also valid for localhost and 127.0.0.1"
[[ $(grep -c "development mesh" out) == 1 ]] || fail "the notice is not one line"
for s in $SERVICES; do
    sans_of "dev/$s/cert.pem" >sans
    has sans "DNS:localhost"
    has sans "IP Address:127.0.0.1"
    has sans "URI:spiffe://mesh.local/$s"
done
expect 0 check --dir dev --json
jq -e '.development == true' out >/dev/null || fail "check --json: development is not true"
expect 0 list --dir dev --json
jq -e '[.[] | select(.kind == "leaf") | .loopback_sans] | all' out >/dev/null ||
    fail "list --json: a development leaf without loopback_sans: true"
expect 0 issue extra --dir dev
has out "development mesh"
has <(sans_of dev/extra/cert.pem) "IP Address:127.0.0.1"
ok "development: loopback SANs on every leaf, a one-line notice, development/loopback_sans in --json"

# --- development: false ---
cat >prod.json <<'EOF'
{
  "trust_domain": "prod.example.internal",
  "development": false,
  "services": [
    {"name": "gateway", "sans": ["gw.prod.example.internal", "10.0.0.5"]},
    {"name": "auth-service"},
    {"name": "local-only", "sans": ["localhost", "127.0.0.1"]}
  ]
}
EOF
expect 0 init --template prod.json --dir prod
! grep -q "development mesh" out || fail "a non-development init printed the development notice"
printf '%s\n' "DNS:gateway" "DNS:gw.prod.example.internal" "IP Address:10.0.0.5" \
    "URI:spiffe://prod.example.internal/gateway" | sort >want
sans_of prod/gateway/cert.pem >got
diff want got || fail "gateway: SANs are not exactly its name, the template's and the SPIFFE ID"
printf '%s\n' "DNS:auth-service" "URI:spiffe://prod.example.internal/auth-service" | sort >want
sans_of prod/auth-service/cert.pem >got
diff want got || fail "auth-service: SANs are not exactly its name and the SPIFFE ID"
has <(sans_of prod/local-only/cert.pem) "DNS:localhost"
has <(sans_of prod/local-only/cert.pem) "IP Address:127.0.0.1"
for s in gateway auth-service local-only; do verify_service prod "$s"; done
# and a TLS client that checks the host name refuses the certificate for localhost
openssl verify -CAfile prod/ca.pem -untrusted prod/intermediate.pem -verify_hostname localhost \
    prod/auth-service/cert.pem >/dev/null 2>&1 && fail "auth-service verifies as localhost"
openssl verify -CAfile prod/ca.pem -untrusted prod/intermediate.pem -verify_ip 127.0.0.1 \
    prod/auth-service/cert.pem >/dev/null 2>&1 && fail "auth-service verifies as 127.0.0.1"
openssl verify -CAfile dev/ca.pem -untrusted dev/intermediate.pem -verify_hostname localhost \
    dev/auth-service/cert.pem >/dev/null || fail "a development leaf does not verify as localhost"
expect 0 check --dir prod --json
jq -e '.development == false' out >/dev/null || fail "check --json: development is not false"
jq -e '.items[] | select(.name == "auth-service") | .loopback_sans == false' out >/dev/null ||
    fail "check --json: auth-service loopback_sans is not false"
jq -e '.items[] | select(.name == "local-only") | .loopback_sans == true' out >/dev/null ||
    fail "check --json: local-only (lists localhost) loopback_sans is not true"
ok "not development: only the template's names and the SPIFFE ID; loopback only when listed"

# issue (no --template) follows the mode init recorded; --san localhost is explicit
expect 0 issue newsvc --dir prod
! grep -q "development mesh" out || fail "issue in a non-development mesh printed the notice"
no_loopback prod/newsvc/cert.pem
expect 0 issue named --san localhost --dir prod
has <(sans_of prod/named/cert.pem) "DNS:localhost"
no_loopback prod/newsvc/cert.pem
expect 0 issue fromtpl --template "$TEMPLATE" --dir prod
has out "development mesh"
has <(sans_of prod/fromtpl/cert.pem) "IP Address:127.0.0.1"
ok "issue: the mesh's mode, or the --template's; --san adds loopback names explicitly"

# --name-constraints outside development do not permit localhost
expect 0 init --template prod.json --dir nc --name-constraints
openssl x509 -in nc/intermediate.pem -noout -ext nameConstraints >nc.txt
has nc.txt "DNS:gateway"
has nc.txt "DNS:localhost" # local-only lists it
jq '.services |= map(select(.name != "local-only"))' prod.json >prod2.json
expect 0 init --template prod2.json --dir nc2 --name-constraints
openssl x509 -in nc2/intermediate.pem -noout -ext nameConstraints >nc.txt
! grep -q "DNS:localhost" nc.txt || fail "name constraints permit localhost outside development"
ok "name constraints: localhost only when a service lists it"

# switching a mesh from development to not re-issues the template's leaves without loopback
jq '.development = false' "$TEMPLATE" >switch.json
expect 0 init --template switch.json --dir dev
has out "reissued"
has out "the template no longer has DNS:localhost"
! grep -q "development mesh" out || fail "the notice after switching development off"
for s in $SERVICES; do no_loopback "dev/$s/cert.pem"; done
# extra (from `issue`, not in the template) keeps its names, and init says how to change that
has out "extra still has loopback SANs; \`mesh-ca issue extra --force\`"
expect 0 issue extra --force --dir dev
no_loopback dev/extra/cert.pem
expect 0 check --dir dev --json
jq -e '.development == false and ([.items[] | select(.kind == "leaf") | .loopback_sans] | any | not)' \
    out >/dev/null || fail "check --json after the switch"
ok "development -> false: template leaves re-issued without loopback SANs, extras on request"
