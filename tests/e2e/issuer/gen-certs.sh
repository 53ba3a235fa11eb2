#!/usr/bin/env bash
# Test PKI for the mesh-issuer end-to-end tests, made with the openssl CLI:
#   root -> intermediate -> leaves (spiffe://mesh.local/<name> URI SAN, EKU server+client),
#   an expired leaf, a leaf that gets revoked (certs/crl.pem), a leaf from a foreign CA,
#   and two RSA-2048 JWT signing keys.
# usage: gen-certs.sh DIR
#        gen-certs.sh DIR leaf NAME STARTDATE ENDDATE   (one more leaf from the intermediate)
set -euo pipefail
# shellcheck source=../../openssl-ca.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../../openssl-ca.sh"
dir=$1
mkdir -p "$dir"
cd "$dir"
umask 077
q() { "$@" >/dev/null 2>&1 || { echo "gen-certs: failed: $*" >&2; "$@"; exit 1; }; }


root() { # name [subject]
    ca_conf "$1"
    q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
        -out "$1.pem" -days 3650 -subj "${2:-/CN=$1}" -config "$1.cnf" -extensions v3_ca
}

intermediate() { # name issuer subject
    ca_conf "$1"
    q openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
        -out "$1.req" -subj "$3"
    q openssl ca -batch -config "$2.cnf" -cert "$2.pem" -keyfile "$2.key" -in "$1.req" \
        -out "$1.pem" -extensions v3_int -extfile "$2.cnf" -notext -days 3650
}

# Environment knobs for hostile leaves: ID (the SPIFFE path), EKU, SAN (the whole SAN line).
leaf() { # ca name [startdate enddate]
    local ca=$1 name=$2 id=${ID:-$2}
    mkdir -p "$name"
    cat >"$name/ext.cnf" <<CNF
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = ${EKU:-serverAuth, clientAuth}
subjectAltName = ${SAN:-URI:spiffe://mesh.local/$id, DNS:$name, DNS:localhost, IP:127.0.0.1}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
    q openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$name/key.pem" -out "$name/req.pem" -subj "/CN=$name"
    local dates=(-days 365)
    if [[ $# -ge 4 ]]; then
        dates=(-startdate "$3" -enddate "$4")
    fi
    q openssl ca -batch -config "$ca.cnf" -cert "$ca.pem" -keyfile "$ca.key" -in "$name/req.pem" \
        -out "$name/leaf.pem" -extfile "$name/ext.cnf" -notext "${dates[@]}"
    if [[ -n ${CHAIN:-} ]]; then # what the client sends after its leaf
        cat "$name/leaf.pem" $CHAIN >"$name/cert.pem"
    elif [[ $ca == intermediate ]]; then
        cat "$name/leaf.pem" intermediate.pem >"$name/cert.pem"
    else
        cp "$name/leaf.pem" "$name/cert.pem"
    fi
}

if [[ ${2:-} == leaf ]]; then
    leaf intermediate "$3" "$4" "$5"
    exit 0
fi

root ca
intermediate intermediate ca "/CN=mesh intermediate"

for s in mesh-issuer gateway asset-service chat-service admin revoked-svc; do
    leaf intermediate "$s"
done
leaf intermediate expired-svc 20200101000000Z 20200201000000Z
root foreign
# The foreign CA's leaf claims the gateway's identity: it must still be refused.
ID=gateway leaf foreign gateway-foreign

# Hostile client certificates (tests/e2e/issuer/e2e_hostile.c): each claims a mesh identity.
mkdir -p hostile-self
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout hostile-self/key.pem -out hostile-self/cert.pem -days 30 -subj "/CN=web-service" \
    -addext "subjectAltName=URI:spiffe://mesh.local/web-service" \
    -addext "extendedKeyUsage=clientAuth"
ID=gateway CHAIN=foreign.pem leaf foreign hostile-foreign-root
intermediate foreign-int foreign "/CN=mesh intermediate"
ID=gateway CHAIN="foreign-int.pem foreign.pem" leaf foreign-int hostile-foreign-int
root same-name-ca /CN=ca
intermediate same-name-int same-name-ca "/CN=mesh intermediate"
ID=admin CHAIN="same-name-int.pem same-name-ca.pem" leaf same-name-int hostile-same-names
ID=admin CHAIN=same-name-int.pem leaf same-name-int hostile-same-names-noroot
leaf intermediate hostile-not-yet 20990101000000Z 20991231000000Z
ID=gateway EKU=serverAuth leaf intermediate hostile-server-only
SAN="URI:spiffe://mesh.local/gateway, URI:spiffe://mesh.local/admin" \
    leaf intermediate hostile-two-uris
SAN="DNS:localhost, IP:127.0.0.1" leaf intermediate hostile-no-uri
mkdir -p hostile-intermediate
cp intermediate.key hostile-intermediate/key.pem
cp intermediate.pem hostile-intermediate/cert.pem

q openssl ca -config intermediate.cnf -cert intermediate.pem -keyfile intermediate.key \
    -revoke revoked-svc/leaf.pem
q openssl ca -gencrl -config intermediate.cnf -cert intermediate.pem -keyfile intermediate.key \
    -out crl.pem

q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out jwt-signing.key
q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out jwt-signing-2.key
echo "gen-certs: done in $dir"
