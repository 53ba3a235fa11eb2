#!/usr/bin/env bash
# Keys 0600 from the first byte, key directories 0700, certificates 0644; a loose key is refused.
. "$(dirname "$0")/lib.sh"

umask 077 # mesh-ca must not rely on the umask (077 first, then 000)
expect 0 init --template "$TEMPLATE" --dir strict
[[ $(mode_of strict/gateway/cert.pem) == 644 && $(mode_of strict/ca.pem) == 644 ]] || fail "umask 077 changed a certificate mode"
umask 000
expect 0 init --template "$TEMPLATE" --dir certs
[[ $(mode_of certs) == 700 ]] || fail "certs/ is $(mode_of certs)"
for k in ca.key intermediate.key jwt-signing.key; do
    [[ $(mode_of "certs/$k") == 600 ]] || fail "$k is $(mode_of "certs/$k")"
done
for c in ca.pem intermediate.pem jwt-signing.pub index.json; do
    [[ $(mode_of "certs/$c") == 644 ]] || fail "$c is $(mode_of "certs/$c")"
done
for s in $SERVICES; do
    [[ $(mode_of "certs/$s") == 700 ]] || fail "certs/$s is $(mode_of "certs/$s")"
    [[ $(mode_of "certs/$s/key.pem") == 600 ]] || fail "$s/key.pem mode"
    [[ $(mode_of "certs/$s/cert.pem") == 644 ]] || fail "$s/cert.pem mode"
done
ok "modes with umask 000: keys 0600, directories 0700, certificates 0644"
umask 022

# Watch a fresh key file being born: it must never be seen with group/other bits.
# (inotify-free: poll the directory while issuing many services)
( for _ in $(seq 1 400); do find certs -name '.*key*.tmp.*' -perm /077 -print 2>/dev/null || true; done ) >seen &
watcher=$!
expect 0 issue $(seq -f 'w%g' 1 40) --dir certs
wait "$watcher" || true
[[ ! -s seen ]] || { cat seen; fail "a temp file was visible with a loose mode"; }
ok "no temp file seen with a loose mode while issuing 40 services"

chmod 644 certs/gateway/key.pem
tree_sum certs >before
expect 2 init --template "$TEMPLATE" --dir certs
has err "certs/gateway/key.pem: private key has mode 0644"
has err "--fix-perms"
tree_sum certs >after
cmp -s before after || fail "a refused run wrote something"
expect 2 issue new-one --dir certs
expect 2 renew gateway --dir certs
ok "a 0644 key is refused by init/issue/renew with a clear message; nothing written"

expect 0 init --template "$TEMPLATE" --dir certs --fix-perms
has out "fixed     certs/gateway/key.pem (mode 0644 -> 0600)"
[[ $(mode_of certs/gateway/key.pem) == 600 ]] || fail "--fix-perms did not fix"
has out "kept      certs/gateway/cert.pem"
ok "--fix-perms fixes the mode and keeps the certificate"

chmod 755 certs
expect 2 init --template "$TEMPLATE" --dir certs
has err "chmod 700"
expect 0 init --template "$TEMPLATE" --dir certs --fix-perms
[[ $(mode_of certs) == 700 ]] || fail "dir not fixed"
ok "a loose key directory is refused, or fixed with --fix-perms"

# `check` reports a loose key as invalid (exit 2)
chmod 640 certs/auth-service/key.pem
expect 2 check --dir certs
has out "auth-service"
