#!/usr/bin/env bash
# `check` exit codes (0 fine, 1 expiring within the window or a short-lived certificate past its
# renewal point, 2 expired/invalid) with --now and MESH_CA_NOW; `list` and its JSON.
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

# Short-lived certificates (renewed in place by `mesh renew --daemon` or libmesh): a 24 h one
# renewed every 16 h is healthy although it always expires within the 30-day window; past its
# renewal point (2/3 of its lifetime, plus the renewer's 10 % jitter / 2: 17.2 h) it is a
# warning (exit 1), expired is exit 2.
expect 0 issue short --days 1 --dir certs --now "$now"
expect 0 check --dir certs --now "$now"
has out "none past its renewal point"
expect 0 check --dir certs --now $((now + 12 * 3600))
expect 0 check --dir certs --now $((now + 16 * 3600))
expect 1 check --dir certs --now $((now + 18 * 3600))
has out "overdue: short expires"
has out "past its renewal point"
! grep -q 'gateway' out || fail "gateway is not overdue at +18 h"
expect 1 check --dir certs --now $((now + 18 * 3600)) --json
python3 - "$WORK/out" "$now" <<'PY'
import calendar, json, sys, time
d = json.load(open(sys.argv[1]))
now = int(sys.argv[2])
assert d["status"] == "expiring", d["status"]
short = [i for i in d["items"] if i["name"] == "short"][0]
assert short["status"] == "expiring" and short["short_lived"] is True, short
at = calendar.timegm(time.strptime(short["renew_at"], "%Y-%m-%dT%H:%M:%SZ"))
assert now + 16 * 3600 < at <= now + 18 * 3600, (short, now)
gw = [i for i in d["items"] if i["name"] == "gateway"][0]
assert gw["status"] == "valid" and "short_lived" not in gw, gw
PY
expect 2 check --dir certs --now $((now + 25 * 3600))
has out "expired: short"
# a window shorter than the lifetime: the window decides, as for any certificate
expect 0 check --dir certs --now "$now" --within 12h
expect 1 check --dir certs --now $((now + 13 * 3600)) --within 12h
has out "expiring: short expires"
ok "a 24 h certificate: healthy until its renewal point, then a warning (exit 1), expired exit 2"
cp certs/gateway/key.pem certs/short/key.pem
expect 2 check --dir certs --now "$now"
has out "invalid: short"
ok "a mismatched key is invalid (exit 2)"

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
