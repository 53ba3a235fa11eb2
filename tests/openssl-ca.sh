# Sourced by the test PKI scripts (tests/e2e/issuer/gen-certs.sh, tests/common/mkpeercerts.sh):
# an `openssl ca` directory and config for CA NAME in the current directory, with the v3_ca and
# v3_int (pathlen:0) extension sections.
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
