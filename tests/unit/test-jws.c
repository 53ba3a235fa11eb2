/* SPDX-License-Identifier: Apache-2.0 */
/* mesh_jws_* and the signature primitives: round trips, outputs, failure paths, threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <pthread.h>

#include "jose-test-util.h"
#include "jws_internal.h"
#include "key_internal.h"
#include "../test-tmp.h"

static mesh_key_t *rs, *ps, *es, *ed; /* private, one per alg */
static mesh_key_t *rs_pub;            /* public half of rs, loaded from PEM */

static mesh_key_t *public_of(const mesh_key_t *key)
{
    char *pem = NULL;
    mesh_key_t *pub = NULL;

    if (mesh_key_public_pem(key, &pem) != MESH_OK ||
        mesh_key_from_pem(pem, strlen(pem), mesh_key_alg(key), &pub) != MESH_OK) {
        pub = NULL;
    }
    mesh_free(pem);
    return pub;
}

/* An RSA key marked PS256: written as PKCS#8 and read back with the alg. */
static mesh_key_t *make_ps256(void)
{
    char path[512];
    int fd = test_tmp_template(path, sizeof(path), "mesh-test-ps256") ? mkstemp(path) : -1;
    mesh_key_t *rsa = NULL, *key = NULL;

    if (fd < 0) {
        return NULL;
    }
    close(fd);
    if (mesh_key_generate(MESH_KEY_RSA2048, &rsa) == MESH_OK &&
        mesh_key_write_pem_file(rsa, path, true, true) == MESH_OK &&
        mesh_key_load_pem_file(path, MESH_ALG_PS256, &key) != MESH_OK) {
        key = NULL;
    }
    unlink(path);
    mesh_key_free(rsa);
    return key;
}

static int setup(void **state)
{
    (void)state;
    if (mesh_key_generate(MESH_KEY_RSA2048, &rs) != MESH_OK ||
        mesh_key_generate(MESH_KEY_P256, &es) != MESH_OK ||
        mesh_key_generate(MESH_KEY_ED25519, &ed) != MESH_OK) {
        return -1;
    }
    ps = make_ps256();
    rs_pub = public_of(rs);
    return ps != NULL && rs_pub != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    mesh_key_free(rs);
    mesh_key_free(ps);
    mesh_key_free(es);
    mesh_key_free(ed);
    mesh_key_free(rs_pub);
    return 0;
}

static void roundtrip(const mesh_key_t *key, const char *alg)
{
    static const char msg[] = "{\"hello\":\"world\"}";
    char *tok = NULL;
    mesh_jws_header_t hdr;
    uint8_t out[MESH_MAX_TOKEN_BYTES];
    size_t n = 0;

    assert_int_equal(mesh_key_alg(key), mesh_alg_from_name(alg, strlen(alg)));
    assert_int_equal(mesh_jws_sign(key, "at+jwt", msg, strlen(msg), &tok), MESH_OK);
    assert_int_equal(mesh_jws_verify(key, tok, strlen(tok), out, sizeof(out), &n), MESH_OK);
    assert_int_equal(n, strlen(msg));
    n = 0;
    /* the header, as the JWT layer sees it (internal: the header is not public ABI) */
    assert_int_equal(
        mesh_jws_verify_header(key, NULL, tok, strlen(tok), &hdr, out, sizeof(out), &n, NULL),
        MESH_OK);
    assert_int_equal(n, strlen(msg));
    assert_memory_equal(out, msg, n);
    assert_int_equal(hdr.alg, mesh_key_alg(key));
    assert_string_equal(hdr.kid, mesh_key_kid(key));
    assert_string_equal(hdr.typ, "at+jwt");
    mesh_free(tok);
}

static void test_roundtrip_rs256(void **state)
{
    (void)state;
    roundtrip(rs, "RS256");
}

static void test_roundtrip_ps256(void **state)
{
    (void)state;
    roundtrip(ps, "PS256");
}

static void test_roundtrip_es256(void **state)
{
    (void)state;
    roundtrip(es, "ES256");
}

static void test_roundtrip_eddsa(void **state)
{
    (void)state;
    roundtrip(ed, "EdDSA");
}

static void test_verify_with_public_key(void **state)
{
    char *tok = NULL;
    uint8_t out[64];
    size_t n = 0;

    (void)state;
    assert_int_equal(mesh_jws_sign(rs, NULL, "abc", 3, &tok), MESH_OK);
    /* twice: the second uses this thread's cached verify context */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(mesh_jws_verify(rs_pub, tok, strlen(tok), out, sizeof(out), &n), MESH_OK);
        assert_int_equal(n, 3);
    }
    mesh_free(tok);
}

static void test_header_layout(void **state)
{
    char *tok = NULL, *h = NULL, *p = NULL;
    char want[256];

    (void)state;
    assert_int_equal(mesh_jws_sign(es, "at+jwt", "{}", 2, &tok), MESH_OK);
    assert_int_equal(mesh_jws_decode_unverified(tok, strlen(tok), &h, &p), MESH_OK);
    snprintf(want, sizeof(want), "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
             mesh_key_kid(es));
    assert_string_equal(h, want);
    assert_string_equal(p, "{}");
    mesh_free(h);
    mesh_free(p);
    mesh_free(tok);
    /* without typ */
    assert_int_equal(mesh_jws_sign(es, NULL, "{}", 2, &tok), MESH_OK);
    assert_int_equal(mesh_jws_decode_unverified(tok, strlen(tok), &h, &p), MESH_OK);
    assert_null(strstr(h, "typ"));
    mesh_free(h);
    mesh_free(p);
    mesh_free(tok);
}

static void test_empty_payload(void **state)
{
    char *tok = NULL;
    uint8_t out[8];
    size_t n = 99;

    (void)state;
    assert_int_equal(mesh_jws_sign(ed, NULL, NULL, 0, &tok), MESH_OK);
    assert_int_equal(mesh_jws_verify(ed, tok, strlen(tok), out, sizeof(out), &n), MESH_OK);
    assert_int_equal(n, 0);
    mesh_free(tok);
}

static void test_sign_failures(void **state)
{
    char *tok = (char *)"untouched";
    char *big = calloc(1, MESH_MAX_TOKEN_BYTES);

    (void)state;
    assert_int_equal(mesh_jws_sign(rs_pub, NULL, "x", 1, &tok), MESH_ERR_KEY_NOT_PRIVATE);
    assert_string_equal(tok, "untouched");
    assert_int_equal(mesh_jws_sign(NULL, NULL, "x", 1, &tok), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_jws_sign(rs, NULL, NULL, 1, &tok), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_jws_sign(rs, NULL, "x", 1, NULL), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_jws_sign(rs, "\xff", "x", 1, &tok), MESH_ERR_INVALID_ARG);
    /* a payload that cannot fit in a token */
    assert_int_equal(mesh_jws_sign(rs, NULL, big, MESH_MAX_TOKEN_BYTES, &tok), MESH_ERR_LIMIT);
    /* a header no verifier would read (typ past MESH_MAX_HEADER_JSON_BYTES) */
    memset(big, 'a', MESH_MAX_HEADER_JSON_BYTES);
    assert_int_equal(mesh_jws_sign(rs, big, "x", 1, &tok), MESH_ERR_LIMIT);
    assert_string_equal(tok, "untouched");
    free(big);
}

static void test_verify_outputs_untouched_on_failure(void **state)
{
    char *tok = NULL;
    uint8_t out[64];
    size_t n = 12345;
    mesh_jws_header_t hdr;

    (void)state;
    memset(&hdr, 0x5a, sizeof(hdr));
    assert_int_equal(mesh_jws_sign(rs, NULL, "payload", 7, &tok), MESH_OK);
    tok[strlen(tok) - 5] ^= 1; /* break the signature */
    assert_int_not_equal(mesh_jws_verify(rs, tok, strlen(tok), out, sizeof(out), &n), MESH_OK);
    assert_int_not_equal(
        mesh_jws_verify_header(rs, NULL, tok, strlen(tok), &hdr, out, sizeof(out), &n, NULL),
        MESH_OK);
    assert_int_equal(n, 12345);
    assert_int_equal(hdr.kid[0], 0x5a);
    mesh_free(tok);
}

static void test_verify_buffer_too_small(void **state)
{
    char *tok = NULL;
    uint8_t out[4];
    size_t n = 0;

    (void)state;
    assert_int_equal(mesh_jws_sign(es, NULL, "longer than four", 16, &tok), MESH_OK);
    assert_int_equal(mesh_jws_verify(es, tok, strlen(tok), out, sizeof(out), &n), MESH_ERR_LIMIT);
    /* NULL payload: only the verdict is wanted */
    assert_int_equal(mesh_jws_verify(es, tok, strlen(tok), NULL, 0, NULL), MESH_OK);
    mesh_free(tok);
}

static void test_verify_args(void **state)
{
    uint8_t out[8];
    size_t n;

    (void)state;
    assert_int_equal(mesh_jws_verify(NULL, "a.b.c", 5, out, sizeof(out), &n), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_jws_verify(rs, NULL, 5, out, sizeof(out), &n), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_jws_verify_jwks(NULL, "a.b.c", 5, out, sizeof(out), &n, NULL),
                     MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_jws_verify(rs, "", 0, out, sizeof(out), &n), MESH_ERR_TOKEN_MALFORMED);
}

static void test_verify_kid_must_match_key(void **state)
{
    char *h = jt_header(rs, NULL, "");
    char *tok;
    uint8_t out[64];
    size_t n;

    (void)state;
    /* signed by rs but verified with es: kid differs */
    tok = jt_token(rs, h, "{}");
    assert_int_equal(mesh_jws_verify(es, tok, strlen(tok), out, sizeof(out), &n),
                     MESH_ERR_KID_UNKNOWN);
    free(tok);
    /* no kid: the given key is used */
    tok = jt_token(rs, "{\"alg\":\"RS256\"}", "{}");
    assert_int_equal(mesh_jws_verify(rs, tok, strlen(tok), out, sizeof(out), &n), MESH_OK);
    free(tok);
    free(h);
}

static void test_verify_jwks(void **state)
{
    mesh_key_t *keys[] = {rs, es, ed};
    mesh_jwks_t *set = NULL;
    const mesh_key_t *used = NULL;
    char *tok = NULL;
    uint8_t out[64];
    size_t n;

    (void)state;
    assert_int_equal(mesh_jwks_from_keys(keys, 3, &set), MESH_OK);
    assert_int_equal(mesh_jws_sign(ed, "at+jwt", "{}", 2, &tok), MESH_OK);
    assert_int_equal(mesh_jws_verify_jwks(set, tok, strlen(tok), out, sizeof(out), &n, &used),
                     MESH_OK);
    assert_string_equal(mesh_key_kid(used), mesh_key_kid(ed));
    mesh_free(tok);
    /* a key not in the set */
    assert_int_equal(mesh_jws_sign(ps, "at+jwt", "{}", 2, &tok), MESH_OK);
    assert_int_equal(mesh_jws_verify_jwks(set, tok, strlen(tok), out, sizeof(out), &n, &used),
                     MESH_ERR_KID_UNKNOWN);
    mesh_free(tok);
    mesh_jwks_free(set);
}

/* The per-thread header cache must never let a cached header skip a key rule. */
static void test_header_cache_keeps_key_rules(void **state)
{
    char *tok = NULL;
    char *forged;
    char *h = jt_header(rs, NULL, "");
    uint8_t out[64];
    size_t n;

    (void)state;
    assert_int_equal(mesh_jws_sign(rs, NULL, "{}", 2, &tok), MESH_OK);
    assert_int_equal(mesh_jws_verify(rs, tok, strlen(tok), out, sizeof(out), &n), MESH_OK);
    /* same header bytes (now cached), wrong key */
    assert_int_equal(mesh_jws_verify(es, tok, strlen(tok), out, sizeof(out), &n),
                     MESH_ERR_KID_UNKNOWN);
    /* same header bytes, other payload, signature from another key */
    forged = jt_token(rs, h, "{\"a\":1}");
    forged[strlen(forged) - 3] ^= 2;
    assert_int_not_equal(mesh_jws_verify(rs, forged, strlen(forged), out, sizeof(out), &n),
                         MESH_OK);
    assert_int_equal(mesh_jws_verify(rs, tok, strlen(tok), out, sizeof(out), &n), MESH_OK);
    free(forged);
    free(h);
    mesh_free(tok);
}

/* More public keys than the per-thread cache has slots, in turn. */
static void test_verify_cache_eviction(void **state)
{
    mesh_key_t *priv[6], *pub[6];
    char *tok[6];
    uint8_t out[64];
    size_t n;

    (void)state;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(mesh_key_generate(MESH_KEY_P256, &priv[i]), MESH_OK);
        pub[i] = public_of(priv[i]);
        assert_non_null(pub[i]);
        assert_int_equal(mesh_jws_sign(priv[i], NULL, "x", 1, &tok[i]), MESH_OK);
    }
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 6; i++) {
            assert_int_equal(mesh_jws_verify(pub[i], tok[i], strlen(tok[i]), out, sizeof(out), &n),
                             MESH_OK);
            assert_int_equal(mesh_jws_verify(pub[i], tok[(i + 1) % 6], strlen(tok[(i + 1) % 6]),
                                             out, sizeof(out), &n),
                             MESH_ERR_KID_UNKNOWN);
        }
    }
    for (int i = 0; i < 6; i++) {
        mesh_key_free(priv[i]);
        mesh_key_free(pub[i]);
        mesh_free(tok[i]);
    }
}

struct thread_arg {
    const char *tok;
    const char *bad;
    int failures;
};

static void *verify_many(void *p)
{
    struct thread_arg *a = p;
    uint8_t out[256];
    size_t n;

    for (int i = 0; i < 200; i++) {
        if (mesh_jws_verify(rs_pub, a->tok, strlen(a->tok), out, sizeof(out), &n) != MESH_OK ||
            mesh_jws_verify(rs_pub, a->bad, strlen(a->bad), out, sizeof(out), &n) == MESH_OK) {
            a->failures++;
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    pthread_t th[4];
    struct thread_arg arg[4];
    char *tok = NULL, *bad;

    (void)state;
    assert_int_equal(mesh_jws_sign(rs, "at+jwt", "{\"n\":1}", 7, &tok), MESH_OK);
    bad = strdup(tok);
    bad[strlen(bad) - 4] ^= 1;
    for (int i = 0; i < 4; i++) {
        arg[i] = (struct thread_arg){.tok = tok, .bad = bad};
        assert_int_equal(pthread_create(&th[i], NULL, verify_many, &arg[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(arg[i].failures, 0);
    }
    free(bad);
    mesh_free(tok);
}

/*
 * Private keys keep their sign and verify contexts in the key, shared by every thread: eight
 * threads (more than the key's slots) sign and verify with the same four keys at once, and each
 * signature must verify and a tampered one must not.
 */
static void *sign_verify_many(void *p)
{
    const mesh_key_t *keys[] = {rs, ps, es, ed};
    static const uint8_t msg[] = "shared contexts";
    uint8_t sig[MESH_SIG_MAX];
    size_t n = 0;
    int *failures = p;

    for (int i = 0; i < 40; i++) {
        const mesh_key_t *k = keys[i % 4];
        if (mesh_sig_sign(k, msg, sizeof(msg), sig, sizeof(sig), &n) != MESH_OK ||
            mesh_sig_verify(k, msg, sizeof(msg), sig, n) != MESH_OK) {
            (*failures)++;
        }
        sig[n / 2] ^= 1;
        if (mesh_sig_verify(k, msg, sizeof(msg), sig, n) != MESH_ERR_SIGNATURE) {
            (*failures)++;
        }
    }
    return NULL;
}

static void test_private_key_contexts_shared_by_threads(void **state)
{
    pthread_t th[8];
    int failures[8] = {0};
    mesh_key_t *tmp = NULL;
    uint8_t sig[MESH_SIG_MAX];
    size_t n = 0;

    (void)state;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, sign_verify_many, &failures[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(failures[i], 0);
    }
    /* a key freed with contexts in its slots leaves nothing behind (ASan's leak check) */
    assert_int_equal(mesh_key_generate(MESH_KEY_P256, &tmp), MESH_OK);
    assert_int_equal(mesh_sig_sign(tmp, (const uint8_t *)"x", 1, sig, sizeof(sig), &n), MESH_OK);
    assert_int_equal(mesh_sig_verify(tmp, (const uint8_t *)"x", 1, sig, n), MESH_OK);
    mesh_key_free(tmp);
}

/*
 * Identifiers come from a per-thread block of random bytes: every one is different, and a
 * forked child does not issue the ids its parent is about to issue (regression guard for the
 * fork handler).
 */
static void test_random_id_fresh_and_fork_safe(void **state)
{
    uint8_t ids[200][MESH_RANDOM_ID_BYTES];
    uint8_t child_id[MESH_RANDOM_ID_BYTES], parent_id[MESH_RANDOM_ID_BYTES];
    int fds[2];
    pid_t pid;
    int status = 0;

    (void)state;
    for (int i = 0; i < 200; i++) { /* spans more than one block */
        assert_int_equal(mesh_random_id(ids[i]), MESH_OK);
        for (int j = 0; j < i; j++) {
            assert_memory_not_equal(ids[i], ids[j], MESH_RANDOM_ID_BYTES);
        }
    }
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int ok = mesh_random_id(child_id) == MESH_OK &&
                 write(fds[1], child_id, sizeof(child_id)) == (ssize_t)sizeof(child_id);
        _exit(ok ? 0 : 1);
    }
    assert_int_equal(mesh_random_id(parent_id), MESH_OK);
    assert_int_equal(read(fds[0], child_id, sizeof(child_id)), (ssize_t)sizeof(child_id));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_memory_not_equal(child_id, parent_id, MESH_RANDOM_ID_BYTES);
    close(fds[0]);
    close(fds[1]);
}

/*
 * The ES256 r||s <-> DER conversions against OpenSSL's own: 2000 signatures (so r or s with a
 * leading zero byte, and with the top bit set, all occur) re-encoded through ECDSA_SIG verify
 * with plain EVP, and verify through mesh_sig_verify.
 */
static void test_es256_form_against_openssl(void **state)
{
    static const uint8_t msg[] = "r||s and DER";
    uint8_t sig[MESH_SIG_MAX];
    size_t n = 0;
    int short_r = 0, high_r = 0;

    (void)state;
    for (int i = 0; i < 2000; i++) {
        ECDSA_SIG *esig = ECDSA_SIG_new();
        BIGNUM *r, *s;
        unsigned char *der = NULL;
        int der_len;
        EVP_MD_CTX *m = EVP_MD_CTX_new();

        assert_int_equal(mesh_sig_sign(es, msg, sizeof(msg), sig, sizeof(sig), &n), MESH_OK);
        assert_int_equal(n, 64);
        short_r += sig[0] == 0;
        high_r += sig[0] >= 0x80;
        r = BN_bin2bn(sig, 32, NULL);
        s = BN_bin2bn(sig + 32, 32, NULL);
        assert_int_equal(ECDSA_SIG_set0(esig, r, s), 1);
        der_len = i2d_ECDSA_SIG(esig, &der);
        assert_true(der_len > 0);
        assert_int_equal(EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, mesh_key_evp(es)), 1);
        assert_int_equal(EVP_DigestVerify(m, der, (size_t)der_len, msg, sizeof(msg)), 1);
        assert_int_equal(mesh_sig_verify(es, msg, sizeof(msg), sig, n), MESH_OK);
        EVP_MD_CTX_free(m);
        OPENSSL_free(der);
        ECDSA_SIG_free(esig);
    }
    assert_true(short_r > 0 && high_r > 0);
}

static void test_decode_unverified(void **state)
{
    char *h = NULL, *p = NULL;
    char *tok;

    (void)state;
    tok = jt_token(rs, "{\"alg\":\"RS256\"}", "not even JSON");
    assert_int_equal(mesh_jws_decode_unverified(tok, strlen(tok), &h, &p), MESH_OK);
    assert_string_equal(h, "{\"alg\":\"RS256\"}");
    assert_string_equal(p, "not even JSON");
    mesh_free(h);
    mesh_free(p);
    free(tok);
    tok = jt_token_raw(rs, "{}", 2, "a\0b", 3);
    assert_int_equal(mesh_jws_decode_unverified(tok, strlen(tok), &h, &p),
                     MESH_ERR_TOKEN_MALFORMED);
    free(tok);
    assert_int_equal(mesh_jws_decode_unverified("a.b", 3, &h, &p), MESH_ERR_TOKEN_MALFORMED);
    assert_int_equal(mesh_jws_decode_unverified("e30.e30.a=", 10, &h, &p), MESH_ERR_B64URL);
    assert_int_equal(mesh_jws_decode_unverified("e30.e30.", 8, NULL, &p), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_jws_decode_unverified("{}", 2, &h, &p),
                     MESH_ERR_TOKEN_JSON_SERIALIZATION);
}

static void test_sig_primitives(void **state)
{
    static const uint8_t msg[] = "signing input";
    uint8_t s1[MESH_SIG_MAX], s2[MESH_SIG_MAX];
    size_t l1 = 0, l2 = 0;

    (void)state;
    /* ES256 signatures are raw r||s */
    assert_int_equal(mesh_sig_sign(es, msg, sizeof(msg), s1, sizeof(s1), &l1), MESH_OK);
    assert_int_equal(l1, 64);
    assert_int_equal(mesh_sig_verify(es, msg, sizeof(msg), s1, l1), MESH_OK);
    assert_int_equal(mesh_sig_verify(es, msg, sizeof(msg) - 1, s1, l1), MESH_ERR_SIGNATURE);
    /* PS256 is randomised, both verify */
    assert_int_equal(mesh_sig_sign(ps, msg, sizeof(msg), s1, sizeof(s1), &l1), MESH_OK);
    assert_int_equal(mesh_sig_sign(ps, msg, sizeof(msg), s2, sizeof(s2), &l2), MESH_OK);
    assert_int_equal(l1, 256);
    assert_memory_not_equal(s1, s2, l1);
    assert_int_equal(mesh_sig_verify(ps, msg, sizeof(msg), s1, l1), MESH_OK);
    assert_int_equal(mesh_sig_verify(ps, msg, sizeof(msg), s2, l2), MESH_OK);
    /* a PS256 signature is not an RS256 one for the same RSA key material */
    assert_int_equal(mesh_sig_sign(rs, msg, sizeof(msg), s1, sizeof(s1), &l1), MESH_OK);
    assert_int_equal(mesh_sig_sign(rs, msg, sizeof(msg), s2, sizeof(s2), &l2), MESH_OK);
    assert_memory_equal(s1, s2, l1); /* PKCS#1 v1.5 is deterministic */
    assert_int_equal(mesh_sig_verify(rs, msg, sizeof(msg), s1, l1 - 1), MESH_ERR_SIGNATURE);
    /* Ed25519 signatures are exactly 64 bytes */
    assert_int_equal(mesh_sig_sign(ed, msg, sizeof(msg), s1, sizeof(s1), &l1), MESH_OK);
    assert_int_equal(l1, 64);
    assert_int_equal(mesh_sig_verify(ed, msg, sizeof(msg), s1, 63), MESH_ERR_SIGNATURE);
    /* failures */
    assert_int_equal(mesh_sig_sign(rs_pub, msg, sizeof(msg), s1, sizeof(s1), &l1),
                     MESH_ERR_KEY_NOT_PRIVATE);
    assert_int_equal(mesh_sig_verify(NULL, msg, sizeof(msg), s1, l1), MESH_ERR_INVALID_ARG);
    assert_int_equal(mesh_random_bytes(s1, 16), MESH_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_rs256),
        cmocka_unit_test(test_roundtrip_ps256),
        cmocka_unit_test(test_roundtrip_es256),
        cmocka_unit_test(test_roundtrip_eddsa),
        cmocka_unit_test(test_verify_with_public_key),
        cmocka_unit_test(test_header_layout),
        cmocka_unit_test(test_empty_payload),
        cmocka_unit_test(test_sign_failures),
        cmocka_unit_test(test_verify_outputs_untouched_on_failure),
        cmocka_unit_test(test_verify_buffer_too_small),
        cmocka_unit_test(test_verify_args),
        cmocka_unit_test(test_verify_kid_must_match_key),
        cmocka_unit_test(test_verify_jwks),
        cmocka_unit_test(test_header_cache_keeps_key_rules),
        cmocka_unit_test(test_verify_cache_eviction),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_private_key_contexts_shared_by_threads),
        cmocka_unit_test(test_random_id_fresh_and_fork_safe),
        cmocka_unit_test(test_es256_form_against_openssl),
        cmocka_unit_test(test_decode_unverified),
        cmocka_unit_test(test_sig_primitives),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
