#!/usr/bin/env bash
# Bad input: a clear error naming the input and the fix, exit 2, nothing written.
. "$(dirname "$0")/lib.sh"

bad_template() { # name json expected-message
    printf '%s\n' "$2" >"$1.json"
    expect 2 init --template "$1.json" --dir "out-$1"
    has "$WORK/err" "$1.json"
    has "$WORK/err" "$3"
    [[ ! -e out-$1 ]] || fail "$1: something was written"
    expect 2 template --template "$1.json"
}

bad_template syntax '{"services": [' "expected near end of file"
bad_template dup '{"trust_domain": "a.b", "trust_domain": "c.d"}' "duplicate"
bad_template san '{"services": [{"name": "a"}, {"name": "b"}, {"name": "c"}, {"name": "d", "sans": ["ok.example", "bad_name!"]}]}' \
    'services[3].sans[1]: "bad_name!" is neither a DNS name nor an IP address'
bad_template upper '{"services": [{"name": "Gateway"}]}' 'services[0].name: "Gateway" is not a valid DNS label'
bad_template dupsvc '{"services": [{"name": "a"}, {"name": "a"}]}' "services[1].name: duplicate service"
bad_template keytype '{"keys": {"leaf": "dsa1024"}}' 'keys.leaf: unsupported key type "dsa1024"'
bad_template member '{"services": [{"name": "a", "san": ["x"]}]}' 'services[0]: unknown member "san"'
bad_template days '{"lifetimes": {"leaf_days": 0}}' "lifetimes.leaf_days"
bad_template td '{"trust_domain": "Mesh Local"}' "trust_domain"
bad_template notobj '[1, 2]' "JSON object"
bad_template devtype '{"development": "false"}' "devtype.json: development: must be true or false"
bad_template devnum '{"development": 0}' "development: must be true or false"
head -c 2000000 /dev/zero | tr '\0' ' ' >huge.json
expect 2 init --template huge.json --dir out-huge
has err "huge.json: 2000000 bytes, over the 1048576-byte limit"
expect 2 init --template missing.json --dir out-missing
has err "missing.json"
[[ ! -e out-missing ]] || fail "missing template: something was written"
ok "template errors name the file and the key path; exit 2; nothing written"

expect 0 template
has out "trust_domain"
expect 0 template --template "$TEMPLATE"
has out "valid (trust domain mesh.local, 6 services)"
expect 0 template --template "$SRC/certs-templates/mesh-rsa.json"

expect 2 init --template "$TEMPLATE" --dir certs --jwt-key-type dsa
has err "unsupported key type"
[[ ! -e certs ]] || fail "bad --jwt-key-type wrote something"
touch afile
expect 2 init --template "$TEMPLATE" --dir afile
has err "afile: not a directory"
expect 2 init --template "$TEMPLATE" --dir no/such/parent
has err "no/such/parent"
expect 2 issue gateway --dir certs
has err "run \`mesh-ca init"
ok "bad flags, a file as --dir, a missing parent, no CA yet: exit 2"

expect 0 init --template "$TEMPLATE" --dir certs
tree_sum certs >before
expect 2 issue Bad_Name --dir certs
has err '"Bad_Name" is not a valid service name'
expect 2 issue ok-name -bad- --dir certs
expect 2 issue svc --san 'x y' --dir certs
has err "--san"
expect 2 issue gateway --dir certs
has err "already exists"
expect 2 renew --dir certs
expect 2 renew unknown-svc --dir certs
has err "unknown-svc"
expect 2 issue svc --days 0 --dir certs
expect 2 check --within soon --dir certs
expect 2 list --all --dir certs
has err "does not apply"
expect 2 frobnicate
tree_sum certs >after
cmp -s before after || fail "bad input changed the mesh"
ok "bad service names, flags and verbs: exit 2, nothing written"

for v in init issue renew revoke list check template; do
    expect 0 "$v" --help
    has out "usage: mesh-ca $v"
done
expect 0 --help
has out "usage: mesh-ca VERB"
ok "--help for every verb"
