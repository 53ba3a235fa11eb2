#!/usr/bin/env bash
# The demo issuer config (certs-templates/issuer.json) on certificates from mesh-ca:
# check-config, tokens for the demo services, a policy denial, and a mesh-ca revocation
# picked up on SIGHUP.  usage: demo-mesh.sh MESH_CA MESH_ISSUER SOURCE_ROOT
set -euo pipefail
ca_bin=$1 issuer_bin=$2 src=$3
tmp=$(mktemp -d)
pid=
cleanup() {
    [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "demo-mesh: FAIL: $*" >&2; [[ -f $tmp/issuer.log ]] && tail -20 "$tmp/issuer.log" >&2; exit 1; }

mkdir -p "$tmp/certs-templates"
cp "$src/certs-templates/mesh.json" "$tmp/certs-templates/"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
jq --arg p "$port" '.listen = "127.0.0.1:" + $p | .issuer = "https://localhost:" + $p' \
    "$src/certs-templates/issuer.json" >"$tmp/certs-templates/issuer.json"
cd "$tmp"
"$ca_bin" init --template certs-templates/mesh.json --dir certs >/dev/null
"$issuer_bin" --check-config --config certs-templates/issuer.json >check.txt 2>&1 || fail "check-config"
grep -q "config OK" check.txt || fail "check-config says: $(cat check.txt)"

"$issuer_bin" serve --workers 1 --config certs-templates/issuer.json 2>issuer.log &
pid=$!
url=https://localhost:$port
for _ in $(seq 1 300); do
    curl -sf --cacert certs/ca.pem "$url/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
token() { # service audience [extra curl args]
    local svc=$1 aud=$2
    shift 2
    curl -s --cacert certs/ca.pem --cert "certs/$svc/cert.pem" --key "certs/$svc/key.pem" \
        "$url/v1/token" -d grant_type=client_credentials -d "audience=$aud" "$@"
}
grep -q '"workers":1' issuer.log || fail "--workers 1 not honoured"
out=$(token gateway asset-service)
[[ $(jq -r .token_type <<<"$out") == Bearer ]] || fail "gateway -> asset-service: $out"
out=$(token web-service chat-service)
[[ $(jq -r .scope <<<"$out") == chat:read ]] || fail "web-service -> chat-service: $out"
out=$(token web-service asset-service -d scope=assets:write)
[[ $(jq -r .error <<<"$out") == invalid_scope ]] || fail "web-service assets:write: $out"
out=$(token asset-service chat-service)
[[ $(jq -r .error <<<"$out") == access_denied ]] || fail "asset-service -> chat: $out"

"$ca_bin" revoke gateway >/dev/null
kill -HUP "$pid"
for _ in $(seq 1 300); do
    out=$(token gateway asset-service)
    [[ $(jq -r .error <<<"$out") == invalid_client ]] && break
    sleep 0.1
done
grep -q revoked <<<"$(jq -r .error_description <<<"$out")" || fail "revoked gateway: $out"

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[[ $status == 0 ]] || fail "mesh-issuer exited with $status after SIGTERM"
echo "demo-mesh: OK"
