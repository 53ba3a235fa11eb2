#!/usr/bin/env bash
# `check` exit codes (0 fine, 1 expiring within the window, 2 expired/invalid) with --now and
# MESH_CA_NOW; `list` and its JSON.
. "$(dirname "$0")/lib.sh"

now=$(date +%s)
day=86400
expect 0 init --template "$TEMPLATE" --dir certs --now "$now"
expect 0 check --dir certs --now "$now"
has out "ok: 9 checked (CA, JWT key, services), none expires within 30 days"
expect 1 check --dir certs --now "$now" --within 50d
has out "expiring: issuer"
! grep -q 'expiring: gateway' out || fail "gateway is not expiring within 50d"
expect 1 check --dir certs --now $((now + 20 * day))
has out "expiring: issuer expires"
! grep -q 'gateway' out || fail "gateway is not expiring at +20 d"
expect 2 check --dir certs --now $((now + 91 * day))
has out "expired: gateway"
MESH_CA_NOW=$((now + 91 * day)) expect 2 check --dir certs
expect 0 check --dir certs --now "$now" --within 12h
ok "check: 0 / 1 (names the service) / 2 with --now, MESH_CA_NOW and --within"

expect 1 check --dir certs --now $((now + 20 * day)) --json
python3 - "$WORK/out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "expiring", d["status"]
st = {i["name"]: i["status"] for i in d["items"]}
assert st["issuer"] == "expiring" and st["gateway"] == "valid", st
assert st["(root CA)"] == "valid", st
PY
expect 0 list --dir certs --json --now "$now"
python3 - "$WORK/out" <<'PY'
import json, sys
items = json.load(open(sys.argv[1]))
gw = [i for i in items if i["name"] == "gateway"][0]
assert gw["spiffe_id"] == "spiffe://mesh.local/gateway", gw
assert gw["key"] == "p256" and gw["status"] == "valid" and gw["days_left"] == 90, gw
assert len(gw["serial"]) >= 32
PY
expect 0 list --dir certs --now "$now"
has out "spiffe://mesh.local/chat-service"
ok "list and check --json"

# short lifetimes instead of time travel; an invalid pair is exit 2
expect 0 issue short --days 1 --dir certs --now "$now"
expect 1 check --dir certs --now "$now"
has out "expiring: short"
cp certs/gateway/key.pem certs/short/key.pem
expect 2 check --dir certs --now "$now"
has out "invalid: short"
ok "1-day certificate is expiring; a mismatched key is invalid (exit 2)"

# renew --all --within renews exactly the ones in the window
expect 0 renew --all --within 30d --dir certs --now "$now"
has out "renewed   certs/short/cert.pem"
[[ $(grep -c '^  renewed .*cert.pem' out) == 1 ]] || fail "renew --all --within renewed more"
expect 0 check --dir certs --now "$now" --within 12h
ok "renew --all --within renews only what expires inside the window"
expect 2 check --dir does-not-exist
has err "does-not-exist"

# the JWT key pair is checked too
expect 0 list --dir certs --json
python3 -c 'import json,sys; d=[i for i in json.load(open(sys.argv[1])) if i["kind"]=="jwt"][0]; assert d["status"]=="valid" and d["key"]=="rsa2048", d' "$WORK/out"
openssl genpkey -algorithm ed25519 -out other.key 2>/dev/null
openssl pkey -in other.key -pubout -out certs/jwt-signing.pub
expect 2 check --dir certs --now "$now" --within 12h
has out "jwt-signing.pub does not match"
ok "list/check include the JWT signing key pair"
