#!/usr/bin/env bash
# mesh-authz bench (docs/PERFORMANCE.md "mesh-authz"). Real processes on 127.0.0.1: mesh-ca's
# certificates, mesh-issuer, mesh-authz on a unix socket, Debian's nginx with two servers that
# differ only in auth_request (one asks mesh-authz, one does not), both proxying to the same
# upstream (an nginx server on a unix socket answering 200). Measured in one run:
#   1. nginx + mesh-authz vs the same nginx without auth: the same mTLS keep-alive load
#      (authz-load http, CONNS connections, web-service's certificate and one bound token),
#      requests/s and p99, RUNS alternating rounds, medians; the ratio (goal >= 0.60).
#   2. mesh-authz alone (its unix socket, the /nginx front end, X-Client-Cert as nginx sends
#      it): decisions per mesh-authz CPU-second (/proc/PID/stat), cached (one token again and
#      again) and uncached (N tokens each once after a restart: mesh_verify's verified-token
#      cache misses every time; the certificate's verdict stays remembered, as in production
#      where a caller keeps its certificate).
#   3. raw mesh_verify() in one thread of authz-load, cached and with the cache off.
# Run by ./dev bench (MESH_BUILD_ROOT = the release build). RUNS, SECS, CONNS, N, AUTHZ_LOG
# (file or off: mesh-authz's decision log) may be set; PERF_OUT=FILE writes a perf profile of
# mesh-authz during the first cached round there; AUTHZ_BIN=PATH runs another build of
# mesh-authz (an A/B of two versions, the rest unchanged).
# Nothing here asserts a time: the numbers are printed, and written down by hand.
set -euo pipefail

B=${MESH_BUILD_ROOT:?run via ./dev bench}
S=${MESH_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
RUNS=${RUNS:-5}
SECS=${SECS:-5}
CONNS=${CONNS:-16}
N=${N:-10000} # distinct tokens (each uncached round restarts mesh-authz and sends them once)
LOAD=$B/tests/bench/authz-load
AUTHZ=${AUTHZ_BIN:-$B/libmesh/authz/mesh-authz} # AUTHZ_BIN: another build of it, for an A/B
NGINX=$(command -v nginx || true)
[[ -n $NGINX ]] || NGINX=/usr/sbin/nginx
[[ -x $NGINX ]] || { echo "bench authz: nginx missing (./dev deps installs it)" >&2; exit 2; }
for b in "$LOAD" "$AUTHZ" "$B/issuer/mesh-issuer" "$B/ca/mesh-ca"; do
    [[ -x $b ]] || { echo "bench authz: $b is not built" >&2; exit 2; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/mesh-authz-bench.XXXXXX")
chmod 700 "$T"
PIDS=()
cleanup() {
    local pid i
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench authz: %s\n' "$*" >&2; exit 2; }
spawn() { # name, command...
    local name=$1
    shift
    "$@" >"$T/$name.log" 2>&1 &
    PIDS+=("$!")
    LAST_PID=$!
}
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    local p i
    for ((i = 0; i < 50; i++)); do
        p=$((20000 + RANDOM % 40000))
        port_in_use "$p" || { echo "$p"; return 0; }
    done
    die "no free port on 127.0.0.1"
}
eventually() { # secs, command...
    local i
    for ((i = 0; i < $1 * 5; i++)); do
        "${@:2}" && return 0
        sleep 0.2
    done
    return 1
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
field() { jq -r ".$1" <<<"$2"; } # name, JSON line

# The decision log goes to a file, as in production (its cost is part of a decision);
# AUTHZ_LOG=off measures without it.
DECISIONS=$T/decisions.log
[[ ${AUTHZ_LOG:-file} == off ]] && DECISIONS=off

# ---- certificates, issuer, mesh-authz, nginx ----
"$B/ca/mesh-ca" init --dir "$T/certs" --template "$S/certs-templates/mesh.json" >"$T/mesh-ca.log" 2>&1 ||
    die "mesh-ca init failed ($(tail -n 1 "$T/mesh-ca.log"))"
C=$T/certs
cat "$C/ca.pem" "$C/intermediate.pem" >"$T/bundle.pem"
port=$(free_port)
cat >"$T/issuer.json" <<JSON
{
  "issuer": "https://127.0.0.1:$port",
  "listen": "127.0.0.1:$port",
  "tls": {"cert": "certs/issuer/cert.pem", "key": "certs/issuer/key.pem", "ca": "certs/ca.pem"},
  "signing_keys": {"current": "certs/jwt-signing.key"},
  "store": "sqlite:issuer.db",
  "audiences": [{"name": "gateway", "description": "behind nginx", "scopes": ["assets:read"]}],
  "policy": [{"identity": "spiffe://mesh.local/web-service", "audiences": ["gateway"],
              "scopes": ["assets:read"]}],
  "rate_limits": {"per_identity": {"rate": 0}},
  "workers": 2
}
JSON
spawn issuer "$B/issuer/mesh-issuer" serve --config "$T/issuer.json"
ISSUER_URL=https://127.0.0.1:$port
eventually 30 curl -sf -o /dev/null --cacert "$C/ca.pem" "$ISSUER_URL/healthz" ||
    die "mesh-issuer did not start ($T/issuer.log)"

cat >"$T/authz.json" <<JSON
{
  "listen": [{"unix": "$T/authz.sock", "mode": "0660", "group": "$(id -gn)"}],
  "metrics": "127.0.0.1:0",
  "workers": 2,
  "log": {"decisions": "$DECISIONS"},
  "trust": {"bundle": "$T/bundle.pem"},
  "issuers": {
    "mesh": {"kind": "mesh", "url": "$ISSUER_URL", "ca": "$C/ca.pem",
             "cert": "$C/gateway/cert.pem", "key": "$C/gateway/key.pem",
             "issuer_id": "spiffe://mesh.local/issuer"}
  },
  "routes": [
    {"name": "health", "prefix": "/healthz", "public": true},
    {"name": "assets", "prefix": "/assets/", "methods": ["GET"], "audience": "gateway",
     "scopes": ["assets:read"]}
  ]
}
JSON
"$AUTHZ" --check-config --config "$T/authz.json" >"$T/authz-check.log" 2>&1 ||
    die "mesh-authz refused its config: $(tail -n 2 "$T/authz-check.log")"
authz_start() { # a fresh mesh-authz (an empty verified-token cache); sets AUTHZ_PID
    rm -f "$T/authz.ready"
    spawn authz "$AUTHZ" --config "$T/authz.json" --ready-file "$T/authz.ready"
    AUTHZ_PID=$LAST_PID
    eventually 30 test -s "$T/authz.ready" || die "mesh-authz did not start ($T/authz.log)"
}
authz_restart() {
    local i
    kill -TERM "$AUTHZ_PID"
    for ((i = 0; i < 100; i++)); do
        kill -0 "$AUTHZ_PID" 2>/dev/null || break
        sleep 0.1
    done
    wait "$AUTHZ_PID" 2>/dev/null || true
    authz_start
}
authz_start

mkdir -p "$T/nginx/tmp"
user_line=
[[ $(id -u) == 0 ]] && user_line="user $(id -un) $(id -gn);"
P_AUTH=$(free_port)
P_NONE=$(free_port)
# The two servers share everything (TLS, client-certificate check, upstream, keep-alive)
# but the auth_request.
server() { # port, auth (1/0)
    cat <<NGINX
    server {
        listen 127.0.0.1:$1 ssl;
        ssl_certificate $C/gateway/cert.pem;
        ssl_certificate_key $C/gateway/key.pem;
        ssl_client_certificate $C/ca.pem;
        ssl_verify_client optional;
        ssl_verify_depth 3;
        keepalive_requests 100000;
        location = /_mesh_authz {
            internal;
            proxy_pass http://mesh_authz/nginx;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-Method \$request_method;
            proxy_set_header X-Original-URI \$request_uri;
            proxy_set_header X-Original-Host \$host;
            proxy_set_header X-Client-Cert \$ssl_client_escaped_cert;
        }
        location / {
            $( (($2)) && printf '%s' 'auth_request /_mesh_authz;
            auth_request_set $mesh_subject $upstream_http_x_mesh_subject;
            proxy_set_header X-Mesh-Subject $mesh_subject;')
            proxy_set_header Authorization "";
            proxy_pass http://upstream_echo;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
NGINX
}
cat >"$T/nginx/nginx.conf" <<NGINX
$user_line
worker_processes 2;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $T/nginx/tmp/body;
    proxy_temp_path $T/nginx/tmp/proxy;
    fastcgi_temp_path $T/nginx/tmp/fastcgi;
    uwsgi_temp_path $T/nginx/tmp/uwsgi;
    scgi_temp_path $T/nginx/tmp/scgi;
    upstream mesh_authz { server unix:$T/authz.sock; keepalive 32; }
    upstream upstream_echo { server unix:$T/upstream.sock; keepalive 32; }
    server {
        listen unix:$T/upstream.sock;
        keepalive_requests 100000;
        location / { default_type text/plain; return 200 "subject=[\$http_x_mesh_subject]\n"; }
    }
$(server "$P_AUTH" 1)
$(server "$P_NONE" 0)
}
NGINX
"$NGINX" -t -q -p "$T/nginx" -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf" ||
    die "nginx refused its config"
spawn nginx "$NGINX" -p "$T/nginx" -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf" \
    -g 'daemon off;'
NGINX_PID=$LAST_PID
eventually 30 port_in_use "$P_NONE" || die "nginx did not start ($T/nginx/error.log)"
eventually 30 port_in_use "$P_AUTH" || die "nginx did not start ($T/nginx/error.log)"
mapfile -t NGINX_WORKERS < <(pgrep -P "$NGINX_PID")
((${#NGINX_WORKERS[@]} == 2)) || die "nginx has ${#NGINX_WORKERS[@]} workers, not 2"

# ---- tokens ----
WS=$C/web-service
say "minting 1 + $N tokens for web-service (audience gateway)"
"$LOAD" mint "$ISSUER_URL/v1/token" "$WS/cert.pem" "$WS/key.pem" "$C/ca.pem" gateway 1 \
    >"$T/one.tok" || die "minting failed"
"$LOAD" mint "$ISSUER_URL/v1/token" "$WS/cert.pem" "$WS/key.pem" "$C/ca.pem" gateway "$N" \
    >"$T/many.tok" || die "minting failed"

# A request each way first: both servers answer 200 (else the numbers mean nothing).
for p in "$P_AUTH" "$P_NONE"; do
    out=$("$LOAD" http "https://127.0.0.1:$p/assets/1" "$WS/cert.pem" "$WS/key.pem" "$C/ca.pem" \
        "$T/one.tok" 1 1) || die "the warm-up on port $p failed: $out"
done
out=$("$LOAD" http "https://127.0.0.1:$P_AUTH/assets/1" - - "$C/ca.pem" "$T/one.tok" 1 0.5) &&
    die "nginx + mesh-authz allowed a request without a certificate: the bench is not measuring auth"

# ---- 1. nginx + mesh-authz vs nginx alone ----
load_host=$(awk '{print $1}' /proc/loadavg)
say "nginx: $RUNS alternating rounds of ${SECS}s, $CONNS mTLS keep-alive connections (load $load_host)"
: >"$T/none.rps"; : >"$T/none.p99"; : >"$T/none.p50"
: >"$T/auth.rps"; : >"$T/auth.p99"; : >"$T/auth.p50"
: >"$T/none.us_nginx"; : >"$T/auth.us_nginx"; : >"$T/auth.us_authz"; : >"$T/none.us_load"
: >"$T/auth.us_load"
for r in $(seq 1 "$RUNS"); do
    for kind in none auth; do
        p=$P_NONE
        [[ $kind == auth ]] && p=$P_AUTH
        out=$("$LOAD" http "https://127.0.0.1:$p/assets/1" "$WS/cert.pem" "$WS/key.pem" \
            "$C/ca.pem" "$T/one.tok" "$CONNS" "$SECS" --cpu "$AUTHZ_PID" \
            --cpu "${NGINX_WORKERS[0]}" --cpu "${NGINX_WORKERS[1]}") ||
            die "the $kind round failed: $out"
        printf '    round %d %-4s %s\n' "$r" "$kind" "$out" >&2
        field rps "$out" >>"$T/$kind.rps"
        field p50_ms "$out" >>"$T/$kind.p50"
        field p99_ms "$out" >>"$T/$kind.p99"
        # CPU microseconds per request: nginx's two workers, mesh-authz, the load generator
        jq -r '(.cpu[1] + .cpu[2]) * 1e6 / .requests' <<<"$out" >>"$T/$kind.us_nginx"
        [[ $kind == auth ]] && jq -r '.cpu[0] * 1e6 / .requests' <<<"$out" >>"$T/auth.us_authz"
        jq -r '.self_cpu * 1e6 / .requests' <<<"$out" >>"$T/$kind.us_load"
    done
done

# ---- 2. mesh-authz alone ----
direct() { # tokens file, secs, extra options...
    "$LOAD" http "http://localhost/nginx" - - - "$1" "$CONNS" "$2" --unix "$T/authz.sock" \
        --cpu "$AUTHZ_PID" -H "X-Original-Method: GET" -H "X-Original-URI: /assets/1" \
        -H "X-Original-Host: localhost" --cert-header "$WS/cert.pem" "${@:3}"
}
say "mesh-authz alone: uncached ($N tokens each once, a fresh mesh-authz) and cached (one token)"
: >"$T/cached.per"; : >"$T/uncached.per"; : >"$T/cached.rps"
for r in $(seq 1 "$RUNS"); do
    authz_restart
    direct "$T/one.tok" 0.5 >/dev/null || die "the warm-up of mesh-authz failed"
    out=$(direct "$T/many.tok" 600 --each-once) || die "the uncached round failed: $out"
    printf '    round %d uncached %s\n' "$r" "$out" >&2
    jq -r '.requests / .cpu[0]' <<<"$out" >>"$T/uncached.per"
    perf_pid=
    if [[ -n ${PERF_OUT:-} && $r == 1 ]] && command -v perf >/dev/null; then
        perf record -q -g -p "$AUTHZ_PID" -o "$T/perf.data" -- sleep "$SECS" \
            >"$T/perf.log" 2>&1 &
        perf_pid=$!
    fi
    out=$(direct "$T/one.tok" "$SECS") || die "the cached round failed: $out"
    printf '    round %d cached   %s\n' "$r" "$out" >&2
    if [[ -n $perf_pid ]]; then
        wait "$perf_pid" || true
        perf report -i "$T/perf.data" --stdio --no-children --sort ${PERF_SORT:-dso,sym} 2>/dev/null |
            grep -v '^$' | head -n 200 >"$PERF_OUT" || true
        say "perf profile of mesh-authz (cached round 1) in $PERF_OUT"
    fi
    jq -r '.requests / .cpu[0]' <<<"$out" >>"$T/cached.per"
    field rps "$out" >>"$T/cached.rps"
done

# ---- 3. raw mesh_verify ----
say "raw mesh_verify() in one thread: cached, and with the verified-token cache off"
: >"$T/raw_cached"; : >"$T/raw_nocache"
for r in $(seq 1 "$RUNS"); do
    args=("$ISSUER_URL" "$C/ca.pem" "$C/gateway/cert.pem" "$C/gateway/key.pem" gateway)
    out=$("$LOAD" verify "${args[@]}" "$T/one.tok" "$WS/cert.pem" 3) || die "verify failed: $out"
    field per_cpu_s "$out" >>"$T/raw_cached"
    out=$("$LOAD" verify "${args[@]}" "$T/one.tok" "$WS/cert.pem" 3 --no-cache) ||
        die "verify --no-cache failed: $out"
    field per_cpu_s "$out" >>"$T/raw_nocache"
done

none_rps=$(median <"$T/none.rps")
auth_rps=$(median <"$T/auth.rps")
load_end=$(awk '{print $1}' /proc/loadavg)
printf '\nmesh-authz bench (medians of %d rounds; %d mTLS keep-alive connections, %ss each; ' \
    "$RUNS" "$CONNS" "$SECS"
printf 'load average %s at the start, %s at the end; %d CPUs; decision log %s)\n' "$load_host" \
    "$load_end" "$(nproc)" "${AUTHZ_LOG:-file}"
printf '  %-40s %10s %10s %10s\n' "" "req/s" "p50 ms" "p99 ms"
printf '  %-40s %10.0f %10.2f %10.2f\n' "nginx, no auth" "$none_rps" "$(median <"$T/none.p50")" \
    "$(median <"$T/none.p99")"
printf '  %-40s %10.0f %10.2f %10.2f\n' "nginx + mesh-authz (auth_request)" "$auth_rps" \
    "$(median <"$T/auth.p50")" "$(median <"$T/auth.p99")"
awk -v a="$auth_rps" -v n="$none_rps" \
    'BEGIN {printf "  ratio (with / without auth): %.2f (goal >= 0.60)\n", a / n}'
printf '  CPU per request, us: nginx %.1f -> %.1f with auth, + mesh-authz %.1f; the load ' \
    "$(median <"$T/none.us_nginx")" "$(median <"$T/auth.us_nginx")" "$(median <"$T/auth.us_authz")"
printf 'generator %.1f -> %.1f\n' "$(median <"$T/none.us_load")" "$(median <"$T/auth.us_load")"
printf '  %-40s %10s\n' "" "per CPU-s"
printf '  %-40s %10.0f   (%.0f req/s over the socket)\n' "mesh-authz decisions, cached" \
    "$(median <"$T/cached.per")" "$(median <"$T/cached.rps")"
printf '  %-40s %10.0f\n' "mesh-authz decisions, uncached" "$(median <"$T/uncached.per")"
printf '  %-40s %10.0f\n' "raw mesh_verify(), cached" "$(median <"$T/raw_cached")"
printf '  %-40s %10.0f\n' "raw mesh_verify(), cache off" "$(median <"$T/raw_nocache")"
printf '  (nginx: 2 workers; mesh-authz: 2 workers; the load generator: 1 thread)\n'
