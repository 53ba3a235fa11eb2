#!/usr/bin/env bash
# The generated chain verifies with openssl and carries the certificate profile of the issue.
. "$(dirname "$0")/lib.sh"

now=$(date +%s)
expect 0 init --template "$TEMPLATE" --dir certs --now "$now"
for s in $SERVICES; do
    verify_service certs "$s"
    openssl x509 -in "certs/$s/cert.pem" -noout -text >text
    has text "TLS Web Server Authentication, TLS Web Client Authentication"
    has text "CA:FALSE"
    has text "Subject: CN = $s"
    [[ $(grep -o 'URI:' text | wc -l) == 1 ]] || fail "$s: not exactly one URI SAN"
    has text "URI:spiffe://mesh.local/$s, DNS:$s, DNS:localhost"
    has text "IP Address:127.0.0.1"
    grep -A1 'Key Usage: critical' text | grep -q 'Digital Signature$' || fail "$s: KU"
    has text "X509v3 Subject Key Identifier"
    has text "X509v3 Authority Key Identifier"
    has text "ASN1 OID: prime256v1"
    # serial: at least 128 bits, positive
    serial=$(openssl x509 -in "certs/$s/cert.pem" -noout -serial | cut -d= -f2)
    (( ${#serial} >= 32 )) || fail "$s: serial $serial shorter than 128 bits"
    # two certificates in cert.pem: leaf, then intermediate
    [[ $(grep -c 'BEGIN CERTIFICATE' "certs/$s/cert.pem") == 2 ]] || fail "$s: chain"
done
ok "every service verifies; EKU, one URI SAN, KU, SKI/AKI, serial"
has <(openssl x509 -in certs/gateway/cert.pem -noout -ext subjectAltName) "DNS:gateway.mesh.local"

# NotBefore backdated 60 s; 90-day default; 30-day override for the issuer
nb=$(date -d "$(openssl x509 -in certs/gateway/cert.pem -noout -startdate | cut -d= -f2)" +%s)
na=$(date -d "$(openssl x509 -in certs/gateway/cert.pem -noout -enddate | cut -d= -f2)" +%s)
(( nb == now - 60 )) || fail "NotBefore $nb, expected $((now - 60))"
(( na == now + 90 * 86400 )) || fail "NotAfter $na, expected now + 90 d"
na=$(date -d "$(openssl x509 -in certs/issuer/cert.pem -noout -enddate | cut -d= -f2)" +%s)
(( na == now + 45 * 86400 )) || fail "issuer NotAfter: template says 45 days"
ok "NotBefore backdated 60 s, lifetimes from the template"

openssl x509 -in certs/intermediate.pem -noout -text >text
has text "CA:TRUE, pathlen:0"
has text "Certificate Sign, CRL Sign"
openssl x509 -in certs/ca.pem -noout -text >text
has text "CA:TRUE"
has text "Certificate Sign, CRL Sign"
na=$(date -d "$(openssl x509 -in certs/ca.pem -noout -enddate | cut -d= -f2)" +%s)
(( na == now + 3650 * 86400 )) || fail "root lifetime"
ok "root and intermediate profiles"

# a leaf never outlives the intermediate
expect 0 issue long-lived --days 36500 --dir certs --now "$now"
[[ $(openssl x509 -in certs/long-lived/cert.pem -noout -enddate) == \
   $(openssl x509 -in certs/intermediate.pem -noout -enddate) ]] || fail "leaf outlives CA"
ok "leaf lifetime capped at the intermediate's"

# key types: RSA leaves get keyEncipherment; Ed25519 works; JWT key types
expect 0 issue rsa-svc --key-type rsa3072 --dir certs
openssl x509 -in certs/rsa-svc/cert.pem -noout -text >text
has text "Digital Signature, Key Encipherment"
has text "Public-Key: (3072 bit)"
expect 0 issue ed-svc --key-type ed25519 --san ed.example.test --san 10.1.2.3 --dir certs
openssl x509 -in certs/ed-svc/cert.pem -noout -text >text
has text "ED25519"
has text "DNS:ed.example.test"
has text "IP Address:10.1.2.3"
for s in rsa-svc ed-svc; do verify_service certs "$s"; done
has <(openssl pkey -in certs/jwt-signing.key -noout -text) "Private-Key: (2048 bit"
for t in rsa3072 p256 ed25519; do
    expect 0 init --template "$TEMPLATE" --dir "jwt-$t" --jwt-key-type "$t"
done
has <(openssl pkey -in jwt-rsa3072/jwt-signing.key -noout -text) "(3072 bit"
has <(openssl pkey -pubin -in jwt-p256/jwt-signing.pub -noout -text) "prime256v1"
has <(openssl pkey -pubin -in jwt-ed25519/jwt-signing.pub -noout -text) "ED25519"
ok "key types: rsa3072, ed25519 leaves; rsa2048/rsa3072/p256/ed25519 JWT keys"

# the second template: another trust domain, RSA leaves, an override back to P-256
expect 0 init --template "$SRC/certs-templates/mesh-rsa.json" --dir rsa
for s in $SERVICES; do verify_service rsa "$s"; done
has <(openssl x509 -in rsa/gateway/cert.pem -noout -text) "URI:spiffe://staging.example.internal/gateway"
has <(openssl x509 -in rsa/gateway/cert.pem -noout -text) "Public-Key: (2048 bit)"
has <(openssl x509 -in rsa/gateway/cert.pem -noout -text) "IP Address:0:0:0:0:0:0:0:1"
has <(openssl x509 -in rsa/auth-service/cert.pem -noout -text) "prime256v1"
# not a development template: no loopback names beyond the ::1 the gateway lists itself
[[ $(openssl x509 -in rsa/auth-service/cert.pem -noout -ext subjectAltName | tail -n +2 | tr -d ' ') == \
   "URI:spiffe://staging.example.internal/auth-service,DNS:auth-service" ]] ||
    fail "rsa/auth-service: SANs beyond its own name and SPIFFE ID"
ok "second template (trust domain, RSA leaves, IPv6 SAN, no development SANs)"

# --name-constraints: permitted URI host = trust domain, DNS from the template
expect 0 init --template "$SRC/certs-templates/mesh-rsa.json" --dir nc --name-constraints
openssl x509 -in nc/intermediate.pem -noout -text >text
has text "X509v3 Name Constraints: critical"
has text "URI:staging.example.internal"
has text "DNS:gateway"
! grep -q "DNS:localhost" text || fail "name constraints permit localhost outside development"
for s in $SERVICES; do verify_service nc "$s"; done
tree_sum nc >before
expect 2 issue outsider --dir nc
has "$WORK/err" "name constraints"
tree_sum nc >after
cmp -s before after || fail "a refused issue wrote something"
ok "name constraints: template services verify, an outsider is refused, nothing written"
