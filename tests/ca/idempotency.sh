#!/usr/bin/env bash
# init is idempotent; a template that gains a service issues exactly one certificate; --force
# re-issues services but keeps the CA; --force-ca replaces the CA loudly.
. "$(dirname "$0")/lib.sh"

expect 0 init --template "$TEMPLATE" --dir certs
[[ $(grep -c '^  created ' out) == 18 ]] || fail "first init: expected 18 created files"
has out "TLS_CERT_PATH="
has out "spiffe://mesh.local/gateway"
tree_sum certs >before
expect 0 init --template "$TEMPLATE" --dir certs
tree_sum certs >after
cmp -s before after || fail "second init changed files"
! grep -qE '^  (created|reissued|replaced) ' out || fail "second init says it changed something"
ok "second init changes nothing and says kept for each file"

# a service the template gained: exactly one new certificate
sed 's/{"name": "web-service"}/{"name": "web-service"}, {"name": "search-service", "sans": ["search.mesh.local"]}/' \
    "$TEMPLATE" >grown.json
expect 0 init --template grown.json --dir certs
[[ $(grep -c '^  created .*/cert.pem' out) == 1 ]] || fail "expected exactly one new cert"
has out "created   certs/search-service/cert.pem"
verify_service certs search-service
ok "template gains a service -> exactly one new certificate"

# a service's SANs change -> only that one is re-issued
sed 's/"sans": \["search.mesh.local"\]/"sans": ["search.mesh.local", "10.9.8.7"]/' grown.json >changed.json
expect 0 init --template changed.json --dir certs
[[ $(grep -c '^  reissued .*/cert.pem' out) == 1 ]] || fail "expected exactly one reissue"
has out "the template adds IP:10.9.8.7"
ok "changed SANs re-issue only that service"

# services added with `issue` survive init
expect 0 issue extra-svc --dir certs
expect 0 init --template changed.json --dir certs
has out "kept      certs/extra-svc/cert.pem, key.pem (not in the template)"

# --force: every leaf and the JWT key re-issued (old ones kept as backups); CA untouched
sha=$(sha256sum certs/ca.pem certs/intermediate.pem)
old_gw=$(sha256sum <certs/gateway/cert.pem)
expect 0 init --template changed.json --dir certs --force
[[ $(sha256sum certs/ca.pem certs/intermediate.pem) == "$sha" ]] || fail "--force touched the CA"
[[ $(sha256sum <certs/gateway/cert.pem) != "$old_gw" ]] || fail "--force kept gateway"
[[ $(grep -c '^  reissued .*/cert.pem' out) == 8 ]] || fail "--force: expected 8 reissues"
ls certs/gateway/cert.pem.*.bak certs/gateway/key.pem.*.bak >/dev/null || fail "no backups"
[[ $(mode_of certs/gateway/key.pem.*.bak) == 600 ]] || fail "key backup mode"
for s in $SERVICES search-service extra-svc; do verify_service certs "$s"; done
ok "--force re-issues services and the JWT key, keeps the CA, keeps dated backups"

# --force-ca: loud, replaces the CA, everything verifies against the new one
old_ca=$(sha256sum <certs/ca.pem)
cp certs/ca.pem old-ca.pem
expect 0 init --template changed.json --dir certs --force-ca
has err "WARNING: --force-ca replaces the root CA"
[[ $(sha256sum <certs/ca.pem) != "$old_ca" ]] || fail "--force-ca kept ca.pem"
ls certs/ca.pem.*.bak certs/ca.key.*.bak >/dev/null || fail "no CA backup"
for s in $SERVICES search-service extra-svc; do verify_service certs "$s"; done
! openssl verify -CAfile old-ca.pem -untrusted certs/intermediate.pem certs/gateway/cert.pem \
    >/dev/null 2>&1 || fail "new leaves verify against the old CA"
ok "--force-ca replaces the CA, warns, re-issues every service"

# a broken root is never replaced without --force-ca
echo garbage >certs/ca.pem
expect 2 init --template changed.json --dir certs
has err "--force-ca"
ok "an invalid root CA stops init and names --force-ca"

# `issue --template` takes a listed service's names from the template: init then keeps it
expect 0 init --template "$TEMPLATE" --dir t2
rm -r t2/gateway
expect 0 issue gateway --template "$TEMPLATE" --dir t2
has <(openssl x509 -in t2/gateway/cert.pem -noout -ext subjectAltName) "DNS:gateway.mesh.local"
expect 0 init --template "$TEMPLATE" --dir t2
has out "kept      t2/gateway/cert.pem"
ok "issue --template uses the template's settings for a listed service"
