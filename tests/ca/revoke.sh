#!/usr/bin/env bash
# revoke -> index.json + crl.pem signed by the intermediate; openssl -crl_check rejects the
# certificate. renew keeps dated backups, --keep-key keeps the key.
. "$(dirname "$0")/lib.sh"

expect 0 init --template "$TEMPLATE" --dir certs
serial=$(openssl x509 -in certs/gateway/cert.pem -noout -serial | cut -d= -f2)
expect 0 revoke gateway --reason keyCompromise --dir certs
has out "revoked   serial"
openssl crl -in certs/crl.pem -noout -text >crl.txt
has crl.txt "Serial Number: $serial"
has crl.txt "Key Compromise"
has crl.txt "mesh-ca intermediate CA"
has crl.txt "X509v3 CRL Number"
openssl crl -in certs/crl.pem -noout -CAfile certs/intermediate.pem 2>&1 | grep -q "verify OK" ||
    fail "crl.pem is not signed by the intermediate"
cat certs/ca.pem certs/intermediate.pem >bundle.pem
if openssl verify -crl_check -CRLfile certs/crl.pem -CAfile bundle.pem certs/gateway/cert.pem \
    >v.out 2>&1; then
    fail "revoked certificate verified"
fi
has v.out "certificate revoked"
openssl verify -crl_check -CRLfile certs/crl.pem -CAfile bundle.pem certs/chat-service/cert.pem \
    >/dev/null || fail "an unrevoked certificate failed the CRL check"
python3 - certs/index.json "$serial" <<'PY'
import json, sys
idx = json.load(open(sys.argv[1]))
e = [c for c in idx["certs"] if c["serial"].upper() == sys.argv[2].upper()][0]
assert e["status"] == "revoked" and e["reason"] == "keyCompromise", e
PY
expect 2 check --dir certs
has out "revoked: gateway"
ok "revoke by service: index.json, crl.pem, openssl -crl_check rejects it, check says 2"

# revoke by serial (any case), the CRL lists both
serial2=$(openssl x509 -in certs/web-service/cert.pem -noout -serial | cut -d= -f2)
expect 0 revoke "$serial2" --dir certs
openssl crl -in certs/crl.pem -noout -text >crl.txt
has crl.txt "Serial Number: $serial"
has crl.txt "Serial Number: $serial2"
expect 2 revoke 0123abcd --dir certs
has err "neither a service"
expect 2 revoke gateway --reason because --dir certs
has err "unknown --reason"
ok "revoke by serial; unknown serial and reason refused"

# renew: new serial and key, dated backups, init afterwards keeps it
old_key=$(sha256sum <certs/gateway/key.pem)
expect 0 renew gateway --dir certs
[[ $(sha256sum <certs/gateway/key.pem) != "$old_key" ]] || fail "renew kept the key"
ls certs/gateway/cert.pem.*.bak certs/gateway/key.pem.*.bak >/dev/null || fail "no backups"
verify_service certs gateway
[[ $(openssl x509 -in certs/gateway/cert.pem -noout -serial | cut -d= -f2) != "$serial" ]] || fail "same serial"
openssl verify -crl_check -CRLfile certs/crl.pem -CAfile bundle.pem certs/gateway/cert.pem \
    >/dev/null || fail "the renewed certificate is rejected"
expect 0 renew gateway --keep-key --dir certs
has out "kept      certs/gateway/key.pem (--keep-key)"
key_now=$(sha256sum <certs/gateway/key.pem)
expect 0 renew gateway --keep-key --dir certs --days 7
[[ $(sha256sum <certs/gateway/key.pem) == "$key_now" ]] || fail "--keep-key changed the key"
has <(openssl x509 -in certs/gateway/cert.pem -noout -text) "DNS:gateway.mesh.local"
expect 2 renew nope --dir certs
has err "no certificate to renew"
ok "renew: new key by default, --keep-key, same names, backups"

# init replaces a revoked certificate
expect 0 init --template "$TEMPLATE" --dir certs
has out "web-service: revoked"
verify_service certs web-service
expect 0 check --dir certs --within 5d
ok "init re-issues a revoked service certificate"

# a lost index.json is rebuilt from the certificates by init; revoke works again
rm certs/index.json
expect 0 init --template "$TEMPLATE" --dir certs
python3 - certs/index.json <<'PY'
import json, sys
idx = json.load(open(sys.argv[1]))
kinds = sorted(c["kind"] for c in idx["certs"])
assert kinds.count("leaf") == 6 and "root" in kinds and "intermediate" in kinds, kinds
PY
expect 0 revoke chat-service --dir certs
has <(openssl crl -in certs/crl.pem -noout -text) "Serial Number: $(openssl x509 -in certs/chat-service/cert.pem -noout -serial | cut -d= -f2)"
ok "init rebuilds a lost index.json; revoke works on it"

# crl.pem is derived from index.json: a missing one is rewritten by init
rm certs/crl.pem
expect 0 init --template "$TEMPLATE" --dir certs
has out "crl.pem (it was missing)"
has <(openssl crl -in certs/crl.pem -noout -text) "Serial Number:"
ok "init rewrites a missing crl.pem from index.json"

# crl.pem lapses after 30 days; an expired CRL makes CRL-checking servers refuse everyone, so
# check reports it and init re-signs it when it is within 10 days of its nextUpdate.
expect 0 init --template "$TEMPLATE" --dir crl-certs
expect 0 revoke chat-service --dir crl-certs
# Revoking again re-signs the list but keeps the recorded reason and date.
expect 0 revoke web-service --reason keyCompromise --dir crl-certs
first=$(openssl crl -in crl-certs/crl.pem -noout -text | grep -A1 "Revocation Date" | head -2)
sleep 1
ws=$(openssl x509 -in crl-certs/web-service/cert.pem -noout -serial | cut -d= -f2)
expect 0 revoke "$ws" --dir crl-certs
has out "reason keyCompromise"
has <(openssl crl -in crl-certs/crl.pem -noout -text) "Key Compromise"
openssl crl -in crl-certs/crl.pem -noout -text | grep -qF "$(echo "$first" | head -1)" ||
    fail "revoking again moved the revocation date"
expect 0 init --template "$TEMPLATE" --dir crl-certs  # re-issues the revoked service
later=$(($(date +%s) + 31 * 86400))
expect 2 check --dir crl-certs --now "$later"
has out "expired: crl.pem: nextUpdate has passed"
expect 1 check --dir crl-certs --now $(($(date +%s) + 25 * 86400)) --json
grep -q '"name": "crl.pem"' out || fail "check --json does not list crl.pem"
expect 0 init --template "$TEMPLATE" --dir crl-certs --now $(($(date +%s) + 21 * 86400))
has out "crl.pem (re-signed: it was close to its nextUpdate)"
expect 1 check --dir crl-certs --now "$later"  # only the 45-day issuer cert is expiring
grep -q "expired: crl.pem" out && fail "a re-signed crl.pem is still reported expired: $(cat out)"
expect 0 init --template "$TEMPLATE" --dir crl-certs --now $(($(date +%s) + 21 * 86400))
grep -q "re-signed" out && fail "init re-signed a fresh crl.pem again"
ok "check reports an expired crl.pem; init re-signs one close to its nextUpdate"
