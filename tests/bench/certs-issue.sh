#!/usr/bin/env bash
# Online certificate issuance bench (docs/PERFORMANCE.md "Online certificate issuance"):
# certificates mesh-issuer signs per issuer CPU-second (POST /v1/certificate, renewals over
# keep-alive mTLS connections, a fresh P-256 CSR each; CPU time of the issuer's PID from
# /proc), beside raw OpenSSL signing of the same leaf with the same issuing key (X509_sign,
# certs-sign-raw) in the same run; then what 100,000 services renewing every 16 h cost.
# Run by ./dev bench with MESH_BUILD_ROOT set; N, CONNS, RAW_SECONDS may be overridden.
set -euo pipefail

B=${MESH_BUILD_ROOT:?run via ./dev bench}
SRC=${MESH_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
N=${N:-2000}
CONNS=${CONNS:-2}
RAW_SECONDS=${RAW_SECONDS:-3}
T=$(mktemp -d "${TMPDIR:-/tmp}/mesh-certs-bench.XXXXXX")
IPID=
cleanup() {
    if [[ -n $IPID ]]; then
        kill -TERM "$IPID" 2>/dev/null || true
        wait "$IPID" 2>/dev/null || true
    fi
    rm -rf "$T"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

C=$T/certs
cat >"$T/mesh.json" <<'JSON'
{"trust_domain": "mesh.local", "development": true,
 "services": [{"name": "issuer"}, {"name": "svc-a"}]}
JSON
"$B/ca/mesh-ca" init --template "$T/mesh.json" --dir "$C" >/dev/null
"$B/ca/mesh-ca" issuer-ca --dir "$C" >/dev/null
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
  "rate_limits": {"per_identity": {"rate": 0, "burst": 0}, "per_source": {"rate": 0, "burst": 0}},
  "certificates": {
    "ca_cert": "certs/issuing-ca.pem", "ca_key": "certs/issuing-ca.key",
    "crl": "issuing-crl.pem", "trust_domain": "mesh.local",
    "services": [{"name": "svc-a"}]
  }
}
JSON
"$B/issuer/mesh-issuer" serve --config "$T/issuer.json" >"$T/issuer.log" 2>&1 &
IPID=$!
for ((i = 0; i < 200; i++)); do
    curl -sf -o /dev/null --cacert "$C/ca.pem" "$URL/healthz" && break
    sleep 0.1
done
curl -sf -o /dev/null --cacert "$C/ca.pem" "$URL/healthz" ||
    { tail -n 20 "$T/issuer.log" >&2; echo "bench certs: mesh-issuer did not start" >&2; exit 1; }

python3 "$SRC/tests/bench/certs_client.py" "$URL" "$C/ca.pem" "$C/svc-a/cert.pem" \
    "$C/svc-a/key.pem" "$N" "$CONNS" "$T/leaf.pem" "$IPID" >"$T/issuer.json.out"
RAW=$("$B/tests/bench/certs-sign-raw" "$T/leaf.pem" "$C/issuing-ca.key" "$RAW_SECONDS")

python3 - "$T/issuer.json.out" "$RAW" "$(openssl x509 -in "$T/leaf.pem" -noout -text |
    grep -m1 'Signature Algorithm' | sed 's/.*: //')" <<'PY'
import json, sys
iss = json.load(open(sys.argv[1]))
raw = json.loads(sys.argv[2])
if iss["ok"] != iss["requests"]:
    sys.exit("bench certs: %d of %d requests failed" % (iss["requests"] - iss["ok"], iss["requests"]))
per_cpu = iss["ok"] / iss["issuer_cpu_seconds"]
ratio = per_cpu / raw["per_cpu_second"]
services, every_h = 100000, 16
per_s = services / (every_h * 3600)
print("online issuance: %d renewals over %d keep-alive mTLS connections in %.2f s wall"
      % (iss["ok"], iss["conns"], iss["wall_seconds"]))
print("  mesh-issuer: %.0f certificates per issuer CPU-second (%.3f CPU-s for %d)"
      % (per_cpu, iss["issuer_cpu_seconds"], iss["ok"]))
print("  raw OpenSSL X509_sign of the same leaf, same issuing key (%s): %.0f per CPU-second"
      % (sys.argv[3], raw["per_cpu_second"]))
print("  ratio: %.2fx raw OpenSSL (goal >= 0.8x)" % ratio)
print("  100,000 services renewing every 16 h: %.2f renewals/s on average, %.4f issuer cores"
      " (%.1f CPU-s per hour)" % (per_s, per_s / per_cpu, per_s / per_cpu * 3600))
PY
