/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verifier and client-cache throughput, as ratios against raw OpenSSL measured in the same
 * run (./dev bench). Prints one line per measurement; never fails on a number.
 *
 *   raw EVP RS256 verify          EVP_DigestVerify over the signing input (decoded signature)
 *   mesh_verify, uncached         header parse, base64url, JSON, every claim rule, binding
 *   mesh_verify, cached           SHA-256 of the token + striped cache lookup + exp/revocation/cnf
 *   client token cache, 1 and 2 threads
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <mesh/mesh.h>

#include "b64url.h"
#include "key_internal.h"
#include "fake_issuer.h"
#include "testutil.h"
#include "../test-tmp.h"

#define RUNS 9

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct {
    mesh_key_t *key;
    char *token;
    char *auth;
    uint8_t cert[900];
    mesh_verifier_t *uncached, *cached;
    mesh_jwks_t *jwks;
} bench_t;

static volatile int sink;

/* ops/s of one timed batch of fn lasting about `secs` seconds. */
static double measure_once(void (*fn)(bench_t *, long), bench_t *b, double secs)
{
    long n = 64;
    double t0, el;

    for (;;) {
        t0 = now_s();
        fn(b, n);
        el = now_s() - t0;
        if (el >= secs) {
            return (double)n / el;
        }
        n = el < secs / 16 ? n * 8 : (long)((double)n * secs / el * 1.1);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/*
 * The machine is shared, so the two sides of a ratio are measured in alternating rounds
 * (same conditions) and the ratio reported is the median of the per-round ratios; the
 * throughputs are the best round of each.
 */
static void paired(void (*a)(bench_t *, long), void (*b_fn)(bench_t *, long), bench_t *b,
                   double *best_a, double *best_b, double *median_ratio)
{
    double ratios[RUNS];

    *best_a = *best_b = 0;
    for (int r = 0; r < RUNS; r++) {
        double x = measure_once(a, b, 0.25);
        double y = measure_once(b_fn, b, 0.25);
        *best_a = x > *best_a ? x : *best_a;
        *best_b = y > *best_b ? y : *best_b;
        ratios[r] = y / x;
    }
    qsort(ratios, RUNS, sizeof(ratios[0]), cmp_double);
    *median_ratio = ratios[RUNS / 2];
}

static double measure(void (*fn)(bench_t *, long), bench_t *b, double secs)
{
    double best = 0;
    for (int r = 0; r < RUNS; r++) {
        double x = measure_once(fn, b, secs);
        best = x > best ? x : best;
    }
    return best;
}

static void raw_verify(bench_t *b, long n)
{
    const char *dot = strrchr(b->token, '.');
    size_t in_len = (size_t)(dot - b->token);
    uint8_t sig[1024];
    size_t sig_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    if (mesh_b64url_decode(dot + 1, strlen(dot + 1), sig, sizeof(sig), &sig_len) != MESH_OK) {
        abort();
    }
    for (long i = 0; i < n; i++) {
        EVP_MD_CTX_reset(ctx);
        if (EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, mesh_key_evp(b->key)) != 1) {
            abort();
        }
        sink += EVP_DigestVerify(ctx, sig, sig_len, (const uint8_t *)b->token, in_len);
    }
    EVP_MD_CTX_free(ctx);
}

static void verify_uncached(bench_t *b, long n)
{
    for (long i = 0; i < n; i++) {
        if (mesh_verify(b->uncached, b->auth, b->cert, sizeof(b->cert), "read", NULL) != MESH_OK) {
            abort();
        }
    }
}

/* The JOSE core alone (signature + claim rules + binding), no verifier around it. */
static void jose_core(bench_t *b, long n)
{
    mesh_jwt_verify_opts_t *o = NULL;
    size_t len = strlen(b->token);

    if (mesh_jwt_verify_opts_new(&o) != MESH_OK ||
        mesh_jwt_verify_opts_set_issuer(o, "https://bench-issuer") != MESH_OK ||
        mesh_jwt_verify_opts_set_audience(o, "svc-b") != MESH_OK ||
        mesh_jwt_verify_opts_set_cert(o, b->cert, sizeof(b->cert)) != MESH_OK ||
        mesh_jwt_verify_opts_set_required_scope(o, "read") != MESH_OK) {
        abort();
    }
    for (long i = 0; i < n; i++) {
        if (mesh_jwt_verify(b->jwks, b->token, len, o, NULL) != MESH_OK) {
            abort();
        }
    }
    mesh_jwt_verify_opts_free(o);
}

static void verify_cached(bench_t *b, long n)
{
    for (long i = 0; i < n; i++) {
        if (mesh_verify(b->cached, b->auth, b->cert, sizeof(b->cert), "read", NULL) != MESH_OK) {
            abort();
        }
    }
}

static mesh_verifier_t *new_verifier(const char *jwks_path, size_t cache)
{
    mesh_verifier_opts_t *o = NULL;
    mesh_verifier_t *v = NULL;

    if (mesh_verifier_opts_new(&o) != MESH_OK ||
        mesh_verifier_opts_set_issuer(o, "https://bench-issuer") != MESH_OK ||
        mesh_verifier_opts_set_audience(o, "svc-b") != MESH_OK ||
        mesh_verifier_opts_set_jwks(o, MESH_JWKS_FROM_FILE, jwks_path) != MESH_OK ||
        mesh_verifier_opts_set_revocation_feed(o, false) != MESH_OK ||
        mesh_verifier_opts_set_cache_entries(o, cache) != MESH_OK ||
        mesh_verifier_new(o, &v) != MESH_OK) {
        fprintf(stderr, "verifier: %s\n", mesh_err_detail());
        abort();
    }
    mesh_verifier_opts_free(o);
    return v;
}

/* ---- client token cache ---- */

typedef struct {
    mesh_client_t *c;
    long n;
} lookup_arg_t;

static void *lookups(void *p)
{
    lookup_arg_t *a = p;
    for (long i = 0; i < a->n; i++) {
        char *t = NULL;
        if (mesh_client_token(a->c, "svc-b", NULL, &t, NULL) != MESH_OK) {
            abort();
        }
        mesh_free(t);
    }
    return NULL;
}

static double client_lookups(mesh_client_t *c, int threads, long per_thread)
{
    pthread_t th[8];
    lookup_arg_t a = {c, per_thread};
    double best = 0;

    for (int r = 0; r < RUNS; r++) {
        double t0 = now_s();
        for (int i = 0; i < threads; i++) {
            pthread_create(&th[i], NULL, lookups, &a);
        }
        for (int i = 0; i < threads; i++) {
            pthread_join(th[i], NULL);
        }
        double rate = (double)per_thread * threads / (now_s() - t0);
        best = rate > best ? rate : best;
    }
    return best;
}

int main(void)
{
    bench_t b = {0};
    char x5t[MESH_X5T_LEN + 1], jwks_path[512];
    int fd = test_tmp_template(jwks_path, sizeof(jwks_path), "mesh-bench-jwks") ? mkstemp(jwks_path)
                                                                                : -1;
    double raw, unc, cac, l1, l2;
    tu_env_t env;

    if (fd < 0) {
        return 1;
    }
    close(fd);
    b.key = tu_rsa_key();
    memset(b.cert, 0x5a, sizeof(b.cert)); /* the verifier only hashes the DER */
    if (mesh_x5t_s256(b.cert, sizeof(b.cert), x5t) != MESH_OK) {
        return 1;
    }
    b.token = tu_token(b.key, "https://bench-issuer", "svc-b", "read write", x5t, 600);
    b.auth = malloc(strlen(b.token) + 8);
    snprintf(b.auth, strlen(b.token) + 8, "Bearer %s", b.token);
    tu_write_jwks(jwks_path, &b.key, 1);
    b.uncached = new_verifier(jwks_path, 0);
    if (mesh_jwks_from_keys(&b.key, 1, &b.jwks) != MESH_OK) {
        return 1;
    }
    b.cached = new_verifier(jwks_path, 16384);

    printf("verifier (RS256, RSA-2048, token %zu bytes, best of %d rounds, one thread)\n",
           strlen(b.token), RUNS);
    double ratio, core, core_ratio, raw2;
    paired(raw_verify, verify_uncached, &b, &raw, &unc, &ratio);
    paired(raw_verify, jose_core, &b, &raw2, &core, &core_ratio);
    cac = measure(verify_cached, &b, 0.25);
    printf("  raw EVP_DigestVerify RS256        %12.0f /s\n", raw);
    printf("  mesh_verify, uncached             %12.0f /s   ratio %.3f (median of %d paired "
           "rounds; target >= 0.85)\n",
           unc, ratio, RUNS);
    printf("  mesh_jwt_verify (JOSE core alone) %12.0f /s   ratio %.3f (what the verifier "
           "wraps)\n",
           core, core_ratio);
    printf("  mesh_verify, cached               %12.0f /s   %.1fx raw (target >= 1000000/s)\n", cac,
           cac / raw);

    /* The client's cache: tokens come from an in-process issuer once, then from memory. */
    tu_env_init(&env);
    fake_t *f = fake_start(env.certs, b.key, 0);
    mesh_client_opts_t *o = NULL;
    mesh_client_t *c = NULL;
    char ca[512], cert[512], key[512];
    mesh_err_t orc = mesh_client_opts_new(&o);
    if (orc == MESH_OK && (orc = mesh_client_opts_set_issuer_url(o, fake_url(f))) == MESH_OK &&
        (orc = mesh_client_opts_set_ca_path(o, tu_path(&env, "ca.pem", ca, sizeof(ca)))) ==
            MESH_OK &&
        (orc = mesh_client_opts_set_cert_path(
             o, tu_path(&env, "svc-a/cert.pem", cert, sizeof(cert)))) == MESH_OK &&
        (orc = mesh_client_opts_set_key_path(
             o, tu_path(&env, "svc-a/key.pem", key, sizeof(key)))) == MESH_OK) {
        orc = mesh_client_new(o, &c);
    }
    mesh_client_opts_free(o);
    if (orc != MESH_OK) {
        fprintf(stderr, "client: %s\n", mesh_err_detail());
        return 1;
    }
    l1 = client_lookups(c, 1, 1000000);
    l2 = client_lookups(c, 2, 1000000);
    printf("client token cache (mesh_client_token hit: lookup + copy of the token)\n");
    printf("  1 thread                          %12.0f /s\n", l1);
    printf("  2 threads (total)                 %12.0f /s\n", l2);
    mesh_client_free(c);
    fake_stop(f);
    tu_env_cleanup(&env);

    mesh_verifier_free(b.uncached);
    mesh_verifier_free(b.cached);
    mesh_jwks_free(b.jwks);
    mesh_key_free(b.key);
    free(b.token);
    free(b.auth);
    unlink(jwks_path);
    return 0;
}
