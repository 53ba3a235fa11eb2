#!/usr/bin/env bash
# mesh-issuer picks up its own renewed server certificate without a restart: a running
# issuer renews its own certificate through its own POST /v1/certificate (curl, openssl), the
# pair is renamed into place; new handshakes see the new serial (the file watch, then SIGHUP)
# while a keep-alive connection opened before keeps working. Processes stopped by PID. TAP.
set -euo pipefail

CERTS_TMP=mesh-certs-reload
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
C=$T/certs
cat >"$T/mesh.json" <<'JSON'
{
  "trust_domain": "mesh.local",
  "development": true,
  "services": [{"name": "issuer"}, {"name": "svc-a"}]
}
JSON
"$MESH_CA" init --template "$T/mesh.json" --dir "$C" >"$T/init.log" 2>&1 ||
    { cat "$T/init.log"; exit 1; }
"$MESH_CA" issuer-ca --dir "$C" >"$T/issuer-ca.log" 2>&1 || { cat "$T/issuer-ca.log"; exit 1; }

PORT=$(free_port)
URL=https://127.0.0.1:$PORT
cat >"$T/issuer.json" <<JSON
{
  "issuer": "$URL",
  "listen": "127.0.0.1:$PORT",
  "tls": {"cert": "certs/issuer/cert.pem", "key": "certs/issuer/key.pem", "ca": "certs/ca.pem"},
  "signing_keys": {"current": "certs/jwt-signing.key"},
  "store": "sqlite:issuer.db",
  "audiences": [{"name": "svc-a"}],
  "policy": [{"identity": "spiffe://mesh.local/*", "audiences": ["svc-a"]}],
  "certificates": {
    "ca_cert": "certs/issuing-ca.pem", "ca_key": "certs/issuing-ca.key",
    "crl": "issuing-crl.pem", "trust_domain": "mesh.local",
    "services": [{"name": "issuer", "dns": ["localhost"], "ips": ["127.0.0.1"]}]
  }
}
JSON
"$ISSUER" serve --config "$T/issuer.json" >"$T/issuer.log" 2>&1 &
PIDS+=("$!")
IPID=$!
up=0
for ((i = 0; i < 200; i++)); do
    if curl -sf -o /dev/null --cacert "$C/ca.pem" "$URL/healthz"; then
        up=1
        break
    fi
    sleep 0.1
done
check "mesh-issuer starts" test "$up" = 1
((up)) || exit 1

serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
served_serial() {
    openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$C/ca.pem" </dev/null 2>/dev/null |
        openssl x509 -noout -serial | cut -d= -f2
}

# The issuer's own renewal, as `mesh renew` does it: a new key, a CSR authenticated by the
# current certificate, then <cert>.new renamed over the certificate and <key>.new over the key.
cat >"$T/renew.sh" <<SH
set -euo pipefail
D=$C/issuer
openssl ecparam -name prime256v1 -genkey -noout -out "\$D/key.pem.new" 2>/dev/null
chmod 0600 "\$D/key.pem.new"
openssl req -new -key "\$D/key.pem.new" -subj /CN=issuer \
    -addext subjectAltName=URI:spiffe://mesh.local/issuer,DNS:localhost -out "$T/renew.csr" 2>/dev/null
jq -n --rawfile csr "$T/renew.csr" '{csr: \$csr}' >"$T/renew-body.json"
code=\$(curl -s --cacert "$C/ca.pem" --cert "\$D/cert.pem" --key "\$D/key.pem" \
    -H 'Content-Type: application/json' --data-binary "@$T/renew-body.json" \
    -o "$T/renew-out.json" -w '%{http_code}' "$URL/v1/certificate")
[[ \$code == 200 ]] || { echo "renewal: HTTP \$code: \$(cat "$T/renew-out.json")" >&2; exit 1; }
jq -r .chain "$T/renew-out.json" >"\$D/cert.pem.new"
mv "\$D/cert.pem.new" "\$D/cert.pem"
mv "\$D/key.pem.new" "\$D/key.pem"
SH

S0=$(served_serial)
check "the issuer serves the certificate mesh-ca minted" test "$S0" = "$(serial_of "$C/issuer/cert.pem")"

# ---- the file watch: a renewal renamed into place, no signal ----
python3 "$SRC/keepalive.py" "$URL" "$C/ca.pem" "$C/svc-a/cert.pem" "$C/svc-a/key.pem" 30 \
    bash "$T/renew.sh" >"$T/ka.json" 2>"$T/ka.err" || { cat "$T/ka.err"; }
S1=$(serial_of "$C/issuer/cert.pem")
check "the renewal replaced the issuer's certificate (new serial)" test "$S1" != "$S0"
check "new handshakes present the renewed certificate, no restart, no signal" \
    jq -e --arg s "$S1" '.new_serial == $s' "$T/ka.json"
check "the keep-alive connection opened before keeps working (200)" \
    jq -e '.first_status == 200 and .old_conn_status == 200' "$T/ka.json"
check "... on the certificate it started with" \
    jq -e --arg s "$S0" '.old_conn_serial == $s' "$T/ka.json"
check "the issuer logged the change of its certificate" grep -q 'TLS certificate changed' "$T/issuer.log"
check "the same process serves (PID $IPID alive)" kill -0 "$IPID"
check "the renewed chain verifies to the root" \
    openssl verify -CAfile "$C/ca.pem" -untrusted "$C/issuing-ca.pem" "$C/issuer/cert.pem"

# ---- a pair that does not match is refused; the running certificate stays ----
cp "$C/issuer/key.pem" "$T/good.key"
openssl ecparam -name prime256v1 -genkey -noout -out "$T/other.key" 2>/dev/null
chmod 0600 "$T/other.key"
n0=$(grep -c 'reload failed' "$T/issuer.log" || true)
mv "$T/other.key" "$C/issuer/key.pem"
ok_bad=0
for ((i = 0; i < 100; i++)); do
    if (($(grep -c 'reload failed' "$T/issuer.log" || true) > n0)); then ok_bad=1; break; fi
    sleep 0.1
done
check "a key that does not match the certificate: reload refused, logged" test "$ok_bad" = 1
check "... and the issuer still serves the renewed certificate" test "$(served_serial)" = "$S1"
cp "$T/good.key" "$C/issuer/key.pem.new"
chmod 0600 "$C/issuer/key.pem.new"
mv "$C/issuer/key.pem.new" "$C/issuer/key.pem"

# ---- SIGHUP reloads too ----
bash "$T/renew.sh" 2>"$T/renew2.err" || cat "$T/renew2.err"
kill -HUP "$IPID"
S2=$(serial_of "$C/issuer/cert.pem")
seen=0
for ((i = 0; i < 100; i++)); do
    if [[ $(served_serial) == "$S2" ]]; then seen=1; break; fi
    sleep 0.1
done
check "after a second renewal and SIGHUP, new handshakes see serial $S2" test "$seen" = 1
check "the issuer logged SIGHUP" grep -q 'SIGHUP' "$T/issuer.log"
check "the same process serves after SIGHUP" kill -0 "$IPID"
