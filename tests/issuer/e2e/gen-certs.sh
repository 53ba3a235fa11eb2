#!/usr/bin/env bash
# Test PKI for the mesh-issuer end-to-end tests, made with the openssl CLI:
#   root -> intermediate -> leaves (spiffe://mesh.local/<name> URI SAN, EKU server+client),
#   an expired leaf, a leaf that gets revoked (certs/crl.pem), a leaf from a foreign CA,
#   and two RSA-2048 JWT signing keys.
# usage: gen-certs.sh DIR
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
umask 077
q() { "$@" >/dev/null 2>&1 || { echo "gen-certs: failed: $*" >&2; "$@"; exit 1; }; }

ca_conf() { # name
    mkdir -p "$1.db"
    : >"$1.db/index.txt"
    echo 1000 >"$1.db/serial"
    echo 1000 >"$1.db/crlnumber"
    cat >"$1.cnf" <<CNF
[ca]
default_ca = CA_default
[CA_default]
dir = $1.db
database = \$dir/index.txt
serial = \$dir/serial
crlnumber = \$dir/crlnumber
new_certs_dir = \$dir
default_md = sha256
policy = policy_any
default_crl_days = 30
unique_subject = no
copy_extensions = none
[policy_any]
commonName = supplied
[v3_ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[v3_int]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
CNF
}

root() { # name
    ca_conf "$1"
    q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
        -out "$1.pem" -days 3650 -subj "/CN=$1" -config "$1.cnf" -extensions v3_ca
}

leaf() { # ca name [startdate enddate]
    local ca=$1 name=$2 id=${ID:-$2}
    mkdir -p "$name"
    cat >"$name/ext.cnf" <<CNF
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = URI:spiffe://mesh.local/$id, DNS:$name, DNS:localhost, IP:127.0.0.1
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
    if [[ $ca == intermediate ]]; then
        cat "$name/leaf.pem" intermediate.pem >"$name/cert.pem"
    else
        cp "$name/leaf.pem" "$name/cert.pem"
    fi
}

root ca
ca_conf intermediate
q openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout intermediate.key \
    -out intermediate.req -subj "/CN=mesh intermediate"
q openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in intermediate.req \
    -out intermediate.pem -extensions v3_int -extfile ca.cnf -notext -days 3650

for s in mesh-issuer gateway asset-service chat-service admin revoked-svc; do
    leaf intermediate "$s"
done
leaf intermediate expired-svc 20200101000000Z 20200201000000Z
root foreign
# The foreign CA's leaf claims the gateway's identity: it must still be refused.
ID=gateway leaf foreign gateway-foreign

q openssl ca -config intermediate.cnf -cert intermediate.pem -keyfile intermediate.key \
    -revoke revoked-svc/leaf.pem
q openssl ca -gencrl -config intermediate.cnf -cert intermediate.pem -keyfile intermediate.key \
    -out crl.pem

q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out jwt-signing.key
q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out jwt-signing-2.key
echo "gen-certs: done in $dir"
