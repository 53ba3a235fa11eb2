#!/bin/sh
# Test certificates laid out like mesh-ca's certs/ (DESIGN.md "Files written by mesh-ca"),
# made with the openssl CLI: a root, an intermediate, and leaves for the services named on
# the command line; plus "expired" (a leaf past notAfter) and other-ca/ (an unrelated root
# with a leaf "stranger").
# usage: mkcerts.sh DIR SERVICE...
set -eu
d=$1
shift
mkdir -p "$d"
cd "$d"
q() { "$@" >/dev/null 2>&1 || { echo "mkcerts: failed: $*" >&2; exit 1; }; }

newkey() { q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; chmod 600 "$1"; }

root() { # dir cn
    newkey "$1/ca.key"
    q openssl req -x509 -new -key "$1/ca.key" -out "$1/ca.pem" -days 30 -subj "/CN=$2" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}

cat >ext-int <<'X'
basicConstraints=critical,CA:TRUE,pathlen:0
keyUsage=critical,keyCertSign,cRLSign
X

leaf() { # name days ca-cert ca-key chain-file(optional) out-dir
    name=$1 days=$2 cacert=$3 cakey=$4 chain=$5 out=$6
    mkdir -p "$out"
    newkey "$out/key.pem"
    q openssl req -new -key "$out/key.pem" -out "$out/req.csr" -subj "/CN=$name"
    cat >"$out/ext" <<X
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=URI:spiffe://mesh.local/$name,DNS:$name,DNS:localhost,IP:127.0.0.1
X
    q openssl x509 -req -in "$out/req.csr" -CA "$cacert" -CAkey "$cakey" -CAcreateserial \
        -days "$days" -extfile "$out/ext" -out "$out/leaf.pem"
    if [ -n "$chain" ]; then cat "$out/leaf.pem" "$chain" >"$out/cert.pem"; else cp "$out/leaf.pem" "$out/cert.pem"; fi
    rm -f "$out/req.csr" "$out/ext" "$out/leaf.pem"
}

root . "mesh test root"
newkey intermediate.key
q openssl req -new -key intermediate.key -out int.csr -subj "/CN=mesh test intermediate"
q openssl x509 -req -in int.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
    -extfile ext-int -out intermediate.pem
rm -f int.csr ext-int

for s in "$@"; do
    leaf "$s" 30 intermediate.pem intermediate.key intermediate.pem "$s"
done
leaf expired -1 intermediate.pem intermediate.key intermediate.pem expired

mkdir -p other-ca
root other-ca "unrelated root"
leaf stranger 30 other-ca/ca.pem other-ca/ca.key "" other-ca/stranger
