#!/usr/bin/env bash
# mesh-ca bench: `mesh-ca init` (default template, P-256) and 100 extra services minted in one
# process, beside mkcert -ecdsa (CAROOT in a temp dir, never -install) and the openssl CLI doing
# the same number of certificates in the same run. Medians of RUNS runs; per-certificate times.
# Run by ./dev bench with MESH_BUILD_ROOT set; RUNS and N may be overridden.
set -euo pipefail

MESH_CA=${MESH_BUILD_ROOT:?run via ./dev bench}/ca/mesh-ca
SRC=${MESH_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
TEMPLATE=$SRC/certs-templates/mesh.json
RUNS=${RUNS:-5}
N=${N:-100}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mesh-ca-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
command -v mkcert >/dev/null || { echo "bench ca: mkcert missing (./dev deps installs it)" >&2; exit 2; }

now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ms() { awk -v ns="$1" -v n="$2" 'BEGIN {printf "%.2f", ns / n / 1e6}'; }

names=$(seq -f 'svc-%g' 1 "$N")
: >"$WORK/init" ; : >"$WORK/batch" ; : >"$WORK/single" ; : >"$WORK/mkcert" ; : >"$WORK/mkinit"
: >"$WORK/openssl"
for r in $(seq 1 "$RUNS"); do
    d=$WORK/run$r
    mkdir -p "$d"
    # mesh-ca init: root + intermediate + P-256 JWT key + 6 service certificates
    t0=$(now_ns)
    "$MESH_CA" init --template "$TEMPLATE" --dir "$d/certs" --jwt-key-type p256 >/dev/null
    t1=$(now_ns); echo $((t1 - t0)) >>"$WORK/init"
    # mesh-ca: N services in one process
    t0=$(now_ns)
    "$MESH_CA" issue $names --dir "$d/certs" >/dev/null
    t1=$(now_ns); echo $((t1 - t0)) >>"$WORK/batch"
    # mesh-ca: N services, one process each (what mkcert has to do)
    t0=$(now_ns)
    for n in $names; do "$MESH_CA" issue "x$n" --dir "$d/certs" >/dev/null; done
    t1=$(now_ns); echo $((t1 - t0)) >>"$WORK/single"
    # mkcert: CA + 6 certificates, then N certificates (one process each; no -install, ever)
    export CAROOT=$d/mkcert-ca
    mkdir -p "$d/mk"
    t0=$(now_ns)
    for s in gateway auth-service asset-service chat-service web-service issuer; do
        mkcert -ecdsa -cert-file "$d/mk/$s.pem" -key-file "$d/mk/$s-key.pem" \
            "$s" localhost 127.0.0.1 >/dev/null 2>&1
    done
    t1=$(now_ns); echo $((t1 - t0)) >>"$WORK/mkinit"
    t0=$(now_ns)
    for n in $names; do
        mkcert -ecdsa -cert-file "$d/mk/$n.pem" -key-file "$d/mk/$n-key.pem" \
            "$n" localhost 127.0.0.1 >/dev/null 2>&1
    done
    t1=$(now_ns); echo $((t1 - t0)) >>"$WORK/mkcert"
    unset CAROOT
    # raw openssl CLI: key + CSR, then sign with the same intermediate (two processes per cert)
    t0=$(now_ns)
    for n in $names; do
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$d/os-$n.key" -subj "/CN=$n" 2>/dev/null |
            openssl x509 -req -CA "$d/certs/intermediate.pem" -CAkey "$d/certs/intermediate.key" \
                -days 90 -extfile <(printf 'subjectAltName=URI:spiffe://mesh.local/%s,DNS:%s,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' "$n" "$n") \
                -out "$d/os-$n.pem" 2>/dev/null
    done
    t1=$(now_ns); echo $((t1 - t0)) >>"$WORK/openssl"
    rm -rf "$d"
done

init=$(median <"$WORK/init"); mkinit=$(median <"$WORK/mkinit")
batch=$(median <"$WORK/batch"); single=$(median <"$WORK/single")
mk=$(median <"$WORK/mkcert"); os=$(median <"$WORK/openssl")
printf 'mesh-ca bench: medians of %d runs, %d extra services, per certificate\n' "$RUNS" "$N"
printf '  %-46s %8s ms total\n' "mesh-ca init (default template, P-256)" "$(ms "$init" 1)"
printf '  %-46s %8s ms total\n' "mkcert -ecdsa, new CAROOT + 6 certs" "$(ms "$mkinit" 1)"
printf '  %-46s %8s ms/cert\n' "mesh-ca issue svc-1..svc-$N (one process)" "$(ms "$batch" "$N")"
printf '  %-46s %8s ms/cert\n' "mesh-ca issue, one process per cert" "$(ms "$single" "$N")"
printf '  %-46s %8s ms/cert\n' "mkcert -ecdsa, one process per cert" "$(ms "$mk" "$N")"
printf '  %-46s %8s ms/cert\n' "openssl req | openssl x509 -req (2 processes)" "$(ms "$os" "$N")"
awk -v b="$batch" -v s="$single" -v m="$mk" -v o="$os" -v i="$init" -v mi="$mkinit" 'BEGIN {
    printf "  ratio mesh-ca batch / mkcert:      %.3f  (target <= 0.5)\n", b / m
    printf "  ratio mesh-ca per-process / mkcert: %.3f\n", s / m
    printf "  ratio mesh-ca batch / openssl CLI:  %.3f\n", b / o
    printf "  ratio mesh-ca init / mkcert 6 certs: %.3f\n", i / mi }'
