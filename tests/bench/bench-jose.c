/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JOSE core speed against raw OpenSSL in the same process and run: for RS256, ES256 and
 * EdDSA, EVP verify of the signing input with a pre-loaded key versus libmesh's full
 * mesh_jwt_verify (parse + signature + every claim rule, cnf included), and EVP sign versus
 * mesh_jwt_sign. Rounds alternate raw/libmesh so load on this shared machine hits both;
 * medians are reported. --clock cpu times the thread's CPU time instead of the wall clock: on
 * a machine shared with other busy processes it leaves out the time this thread waited for a
 * core, which hits whichever side happened to be running. Usage:
 * bench-jose [--json] [--rounds N] [--ms M] [--clock wall|cpu]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <mesh/mesh.h>

#include "key_internal.h"

typedef struct {
    const char *name;
    mesh_key_type_t type;
} alg_case_t;

typedef struct {
    EVP_PKEY *pkey;
    const EVP_MD *md;
    const unsigned char *tbs;
    size_t tbs_len;
    unsigned char sig[512];
    size_t sig_len;
    const mesh_key_t *key;
    const mesh_jwks_t *set;
    const char *token;
    const mesh_jwt_verify_opts_t *opts;
    const mesh_jwt_claims_in_t *claims;
} bench_ctx_t;

typedef int (*op_fn)(bench_ctx_t *c);

static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int raw_verify(bench_ctx_t *c)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok = m != NULL && EVP_DigestVerifyInit(m, NULL, c->md, NULL, c->pkey) == 1 &&
             EVP_DigestVerify(m, c->sig, c->sig_len, c->tbs, c->tbs_len) == 1;
    EVP_MD_CTX_free(m);
    return ok;
}

static int raw_sign(bench_ctx_t *c)
{
    unsigned char sig[512];
    size_t len = sizeof(sig);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok = m != NULL && EVP_DigestSignInit(m, NULL, c->md, NULL, c->pkey) == 1 &&
             EVP_DigestSign(m, sig, &len, c->tbs, c->tbs_len) == 1;
    EVP_MD_CTX_free(m);
    return ok;
}

static int mesh_verify_op(bench_ctx_t *c)
{
    return mesh_jwt_verify(c->set, c->token, strlen(c->token), c->opts, NULL) == MESH_OK;
}

static int mesh_sign_op(bench_ctx_t *c)
{
    char *tok = NULL;
    int ok = mesh_jwt_sign(c->key, c->claims, &tok, NULL) == MESH_OK;
    mesh_free(tok);
    return ok;
}

/* Runs op for about `ms` milliseconds; returns operations per second. */
static double measure(op_fn op, bench_ctx_t *c, int ms)
{
    double start = now_s(), end = start + ms / 1000.0, t;
    long n = 0;

    do {
        for (int i = 0; i < 16; i++) {
            if (!op(c)) {
                fprintf(stderr, "bench-jose: operation failed: %s\n", mesh_err_detail());
                exit(1);
            }
        }
        n += 16;
        t = now_s();
    } while (t < end);
    return (double)n / (t - start);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Median ops/s of a and b over alternating rounds. */
static void race(op_fn a, op_fn b, bench_ctx_t *c, int rounds, int ms, double *ma, double *mb)
{
    double va[64], vb[64];

    for (int r = 0; r < rounds; r++) {
        va[r] = measure(a, c, ms);
        vb[r] = measure(b, c, ms);
    }
    *ma = median(va, rounds);
    *mb = median(vb, rounds);
}

/* The signing input and a raw (OpenSSL-format) signature of the token, for the raw side. */
static void split_token(bench_ctx_t *c, const char *token)
{
    const char *dot2 = strrchr(token, '.');
    c->tbs = (const unsigned char *)token;
    c->tbs_len = (size_t)(dot2 - token);
    c->sig_len = sizeof(c->sig);
    /* A signature over the same input in OpenSSL's own format (DER for ECDSA). */
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    if (EVP_DigestSignInit(m, NULL, c->md, NULL, c->pkey) != 1 ||
        EVP_DigestSign(m, c->sig, &c->sig_len, c->tbs, c->tbs_len) != 1) {
        exit(1);
    }
    EVP_MD_CTX_free(m);
}

int main(int argc, char **argv)
{
    static const alg_case_t cases[] = {
        {"RS256", MESH_KEY_RSA2048}, {"ES256", MESH_KEY_P256}, {"EdDSA", MESH_KEY_ED25519}};
    static const uint8_t cert[] = "a stand-in DER certificate for the cnf thumbprint";
    int json = 0, rounds = 7, ms = 300;
    char x5t[MESH_X5T_LEN + 1];

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = (int)strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--ms") == 0 && i + 1 < argc) {
            ms = (int)strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--clock") == 0 && i + 1 < argc &&
                   (strcmp(argv[i + 1], "wall") == 0 || strcmp(argv[i + 1], "cpu") == 0)) {
            bench_clock = strcmp(argv[++i], "cpu") == 0 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
        } else {
            fprintf(stderr,
                    "usage: bench-jose [--json] [--rounds N] [--ms M] [--clock wall|cpu]\n");
            return 2;
        }
    }
    if (rounds < 1 || rounds > 64 || ms < 10) {
        fprintf(stderr, "bench-jose: --rounds 1..64, --ms >= 10\n");
        return 2;
    }
    if (mesh_x5t_s256(cert, sizeof(cert), x5t) != MESH_OK) {
        return 1;
    }
    if (!json) {
        printf("JOSE core, median of %d alternating rounds of %d ms %s time (ops/s)\n", rounds, ms,
               bench_clock == CLOCK_MONOTONIC ? "wall" : "thread CPU");
        printf("%-6s %-7s %12s %12s %7s\n", "alg", "op", "raw EVP", "libmesh", "ratio");
    } else {
        printf("[");
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mesh_key_t *key = NULL;
        mesh_jwks_t *set = NULL;
        char *token = NULL;
        int64_t now = (int64_t)time(NULL);
        mesh_jwt_claims_in_t *in = NULL;
        if (mesh_jwt_claims_in_new(&in) != MESH_OK ||
            mesh_jwt_claims_in_set_issuer(in, "https://issuer.mesh.local:8443") != MESH_OK ||
            mesh_jwt_claims_in_set_subject(in, "spiffe://mesh.local/web-service") != MESH_OK ||
            mesh_jwt_claims_in_set_audience(in, "gateway") != MESH_OK ||
            mesh_jwt_claims_in_set_scopes(in, "assets:read assets:write") != MESH_OK ||
            mesh_jwt_claims_in_set_client_id(in, "web-service") != MESH_OK ||
            mesh_jwt_claims_in_set_x5t(in, x5t) != MESH_OK ||
            mesh_jwt_claims_in_set_issued_at(in, now) != MESH_OK ||
            mesh_jwt_claims_in_set_ttl(in, 300) != MESH_OK) {
            fprintf(stderr, "claims: %s\n", mesh_err_detail());
            abort();
        }
        mesh_jwt_verify_opts_t *vo = NULL;
        bench_ctx_t c = {0};
        double raw_v, mesh_v, raw_s, mesh_s;

        if (mesh_key_generate(cases[i].type, &key) != MESH_OK ||
            mesh_jwks_from_keys(&key, 1, &set) != MESH_OK ||
            mesh_jwt_sign(key, in, &token, NULL) != MESH_OK) {
            fprintf(stderr, "bench-jose: setup failed: %s\n", mesh_err_detail());
            return 1;
        }
        if (mesh_jwt_verify_opts_new(&vo) != MESH_OK ||
            mesh_jwt_verify_opts_set_issuer(vo, "https://issuer.mesh.local:8443") != MESH_OK ||
            mesh_jwt_verify_opts_set_audience(vo, "gateway") != MESH_OK ||
            mesh_jwt_verify_opts_set_cert(vo, cert, sizeof(cert)) != MESH_OK ||
            mesh_jwt_verify_opts_set_required_scope(vo, "assets:read") != MESH_OK) {
            fprintf(stderr, "bench-jose: options: %s\n", mesh_err_detail());
            return 1;
        }
        c.pkey = mesh_key_evp(key);
        c.md = cases[i].type == MESH_KEY_ED25519 ? NULL : EVP_sha256();
        c.key = key;
        c.set = set;
        c.token = token;
        c.opts = vo;
        c.claims = in;
        split_token(&c, token);
        race(raw_verify, mesh_verify_op, &c, rounds, ms, &raw_v, &mesh_v);
        race(raw_sign, mesh_sign_op, &c, rounds, ms, &raw_s, &mesh_s);
        if (json) {
            printf("%s{\"alg\":\"%s\",\"verify_raw\":%.0f,\"verify_libmesh\":%.0f,"
                   "\"verify_ratio\":%.3f,\"sign_raw\":%.0f,\"sign_libmesh\":%.0f,"
                   "\"sign_ratio\":%.3f}",
                   i ? "," : "", cases[i].name, raw_v, mesh_v, mesh_v / raw_v, raw_s, mesh_s,
                   mesh_s / raw_s);
        } else {
            printf("%-6s %-7s %12.0f %12.0f %7.3f\n", cases[i].name, "verify", raw_v, mesh_v,
                   mesh_v / raw_v);
            printf("%-6s %-7s %12.0f %12.0f %7.3f\n", cases[i].name, "sign", raw_s, mesh_s,
                   mesh_s / raw_s);
        }
        mesh_jwt_verify_opts_free(vo);
        mesh_free(token);
        mesh_jwks_free(set);
        mesh_key_free(key);
        mesh_jwt_claims_in_free(in);
    }
    if (json) {
        printf("]\n");
    }
    return 0;
}
