#!/usr/bin/env bash
# Test PKI for a verifier that checks presenting certificates itself (test-peer-trust.c), made
# with the openssl CLI (the openssl ca layout of tests/e2e/issuer/gen-certs.sh):
#   ca (root) -> intermediate -> good, later, expired, future, serveronly, noeku, twoids,
#                                revoked (in int-crl-1.pem and int-crl-2.pem), later (in 2 only)
#   ca -> intermediate2 (revoked in root-crl.pem) -> under2
#   ca -> ca-client (CA:TRUE with EKU clientAuth and a SPIFFE ID)
#   selfsigned (spiffe://mesh.local/svc-a, EKU clientAuth, not a CA)
#   other-ca -> stranger;  samename-ca ("mesh test root") -> samename-int ("mesh test
#   intermediate") -> impostor, and samename-crl.pem signed by samename-int
# Every leaf dir has leaf.pem (the leaf), chain.pem (leaf + its intermediates) and key.pem.
# usage: mkpeercerts.sh DIR
set -euo pipefail
# shellcheck source=../openssl-ca.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../openssl-ca.sh"
dir=$1
mkdir -p "$dir"
cd "$dir"
umask 077
q() { "$@" >/dev/null 2>&1 || { echo "mkpeercerts: failed: $*" >&2; "$@"; exit 1; }; }


root() { # name cn
    ca_conf "$1"
    q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
        -out "$1.pem" -days 3650 -subj "/CN=$2" -config "$1.cnf" -extensions v3_ca
}

intermediate() { # name cn parent
    ca_conf "$1"
    q openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
        -out "$1.csr" -subj "/CN=$2"
    q openssl ca -batch -config "$3.cnf" -cert "$3.pem" -keyfile "$3.key" -in "$1.csr" \
        -out "$1.pem" -extensions v3_int -days 3650 -notext
    rm -f "$1.csr"
}

# leaf CA NAME EXT [startdate enddate]: EXT is the extension lines; chain.pem adds CA's
# certificate when CA is an intermediate.
leaf() {
    local ca=$1 name=$2 ext=$3
    mkdir -p "$name"
    printf '%s\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n' "$ext" \
        >"$name/ext.cnf"
    q openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$name/key.pem" -out "$name/req.pem" -subj "/CN=$name"
    local dates=(-days 365)
    if [[ $# -ge 5 ]]; then
        dates=(-startdate "$4" -enddate "$5")
    fi
    q openssl ca -batch -config "$ca.cnf" -cert "$ca.pem" -keyfile "$ca.key" -in "$name/req.pem" \
        -out "$name/leaf.pem" -extfile "$name/ext.cnf" -notext "${dates[@]}"
    case $ca in
    ca | other-ca) cp "$name/leaf.pem" "$name/chain.pem" ;;
    *) cat "$name/leaf.pem" "$ca.pem" >"$name/chain.pem" ;;
    esac
    rm -f "$name/req.pem" "$name/ext.cnf"
}

svc() { # spiffe path: the extensions of a mesh service certificate
    printf 'basicConstraints = critical, CA:false\nkeyUsage = critical, digitalSignature\n'
    printf 'extendedKeyUsage = serverAuth, clientAuth\n'
    printf 'subjectAltName = URI:spiffe://mesh.local/%s, DNS:localhost, IP:127.0.0.1\n' "$1"
}

root ca "mesh test root"
intermediate intermediate "mesh test intermediate" ca
intermediate intermediate2 "mesh test intermediate 2" ca
cat ca.pem intermediate.pem intermediate2.pem >bundle.pem

leaf intermediate good "$(svc svc-a)"
leaf intermediate later "$(svc svc-b)"
leaf intermediate revoked "$(svc svc-c)"
leaf intermediate expired "$(svc svc-a)" 20200101000000Z 20200201000000Z
leaf intermediate future "$(svc svc-a)" 20990101000000Z 20991231000000Z
leaf intermediate serveronly "$(svc svc-a | sed 's/serverAuth, clientAuth/serverAuth/')"
leaf intermediate noeku "$(svc svc-a | grep -v extendedKeyUsage)"
leaf intermediate twoids "$(svc svc-a | sed 's|URI:spiffe://mesh.local/svc-a|&, URI:spiffe://mesh.local/svc-b|')"
leaf intermediate2 under2 "$(svc svc-a)"
leaf ca ca-client "$(svc svc-a | sed 's/CA:false/CA:true/; s/digitalSignature/digitalSignature, keyCertSign/')"

# The intermediate's CRLs: 1 revokes "revoked", 2 also "later". The root's revokes intermediate2.
q openssl ca -config intermediate.cnf -cert intermediate.pem -keyfile intermediate.key \
    -revoke revoked/leaf.pem
q openssl ca -config intermediate.cnf -cert intermediate.pem -keyfile intermediate.key \
    -gencrl -out int-crl-1.pem
q openssl ca -config intermediate.cnf -cert intermediate.pem -keyfile intermediate.key \
    -revoke later/leaf.pem
q openssl ca -config intermediate.cnf -cert intermediate.pem -keyfile intermediate.key \
    -gencrl -out int-crl-2.pem
q openssl ca -config ca.cnf -cert ca.pem -keyfile ca.key -revoke intermediate2.pem
q openssl ca -config ca.cnf -cert ca.pem -keyfile ca.key -gencrl -out root-crl.pem
cat int-crl-1.pem root-crl.pem >all-crl.pem

# Self-signed, with a mesh identity and every other property of a service certificate.
mkdir -p selfsigned
cat >selfsigned.cnf <<CNF
[req]
distinguished_name = dn
[dn]
[ext]
$(svc svc-a)
subjectKeyIdentifier = hash
CNF
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout selfsigned/key.pem -out selfsigned/leaf.pem -days 365 -subj "/CN=svc-a" \
    -config selfsigned.cnf -extensions ext
cp selfsigned/leaf.pem selfsigned/chain.pem

# A foreign root; and a foreign root + intermediate named exactly like the mesh's.
root other-ca "unrelated root"
leaf other-ca stranger "$(svc svc-a)"
cat stranger/leaf.pem other-ca.pem >stranger/chain-with-root.pem
root samename-ca "mesh test root"
intermediate samename-int "mesh test intermediate" samename-ca
leaf samename-int impostor "$(svc svc-a)"
cat impostor/chain.pem samename-ca.pem >impostor/chain-with-root.pem
q openssl ca -config samename-int.cnf -cert samename-int.pem -keyfile samename-int.key \
    -gencrl -out samename-crl.pem
