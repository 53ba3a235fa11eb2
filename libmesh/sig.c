/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signature primitives: the one place that hands bytes and keys to OpenSSL for JWS.
 *
 * Speed: a verifier checks thousands of tokens per second against the same few public keys.
 * OpenSSL 3 spends a good part of a verification fetching algorithm implementations, so the
 * SHA-256 EVP_MD is fetched once per process and, for public keys, a verify EVP_PKEY_CTX is
 * kept per thread and reused (EVP_PKEY_verify may run any number of times after one init).
 * The cache is thread-local, so the hot path takes no lock.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "internal.h"
#include "jws_internal.h"
#include "key_internal.h"

#define ES256_HALF 32

/* The order n of the P-256 group (SEC 2 §2.4.2), big-endian. */
static const uint8_t p256_order[ES256_HALF] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md; /* process lifetime; never freed */

static void md_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256(void)
{
    (void)pthread_once(&md_once, md_fetch);
    return sha256_md;
}

/* ---- per-thread verify contexts ---------------------------------------------------------- */

/*
 * An entry owns its ctx, and the ctx holds a reference to the EVP_PKEY, so while an entry lives
 * no other key can take the same address: the pointer is a safe cache key. Only public keys
 * are cached, so no private material outlives mesh_key_free() in a cache.
 */
#define VCACHE_SLOTS 4

struct vcache_entry {
    const EVP_PKEY *pkey;
    mesh_alg_t alg;
    EVP_PKEY_CTX *ctx;
};

struct vcache {
    struct vcache_entry e[VCACHE_SLOTS];
    unsigned next;
};

static _Thread_local struct vcache vcache;
static pthread_once_t vcache_once = PTHREAD_ONCE_INIT;
static pthread_key_t vcache_key;

static void vcache_release(void *p)
{
    struct vcache *vc = p;

    for (size_t i = 0; i < VCACHE_SLOTS; i++) {
        EVP_PKEY_CTX_free(vc->e[i].ctx);
        vc->e[i].ctx = NULL;
        vc->e[i].pkey = NULL;
    }
}

static void vcache_key_create(void)
{
    /* The destructor frees a thread's contexts when the thread exits. */
    (void)pthread_key_create(&vcache_key, vcache_release);
}

/* A verify ctx for the digest-then-verify algorithms, fully configured for `alg`. */
static EVP_PKEY_CTX *verify_ctx_new(EVP_PKEY *pkey, mesh_alg_t alg)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    const EVP_MD *md = sha256();
    int ok;

    if (ctx == NULL || md == NULL || EVP_PKEY_verify_init(ctx) != 1) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    ok = EVP_PKEY_CTX_set_signature_md(ctx, md) == 1;
    if (alg == MESH_ALG_RS256) {
        ok = ok && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1;
    } else if (alg == MESH_ALG_PS256) {
        /* RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash. */
        ok = ok && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, 32) == 1;
    }
    if (!ok) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* Returns a ctx for (pkey, alg); *owned says whether the caller must free it. */
static EVP_PKEY_CTX *verify_ctx_get(const mesh_key_t *key, bool *owned)
{
    EVP_PKEY *pkey = mesh_key_evp(key);
    mesh_alg_t alg = mesh_key_alg(key);
    struct vcache *vc = &vcache;
    struct vcache_entry *slot;
    EVP_PKEY_CTX *ctx;

    *owned = false;
    if (!mesh_key_is_private(key)) {
        for (size_t i = 0; i < VCACHE_SLOTS; i++) {
            if (vc->e[i].pkey == pkey && vc->e[i].alg == alg && vc->e[i].ctx != NULL) {
                return vc->e[i].ctx;
            }
        }
    }
    ctx = verify_ctx_new(pkey, alg);
    if (ctx == NULL || mesh_key_is_private(key)) {
        *owned = ctx != NULL;
        return ctx;
    }
    (void)pthread_once(&vcache_once, vcache_key_create);
    (void)pthread_setspecific(vcache_key, vc);
    slot = &vc->e[vc->next++ % VCACHE_SLOTS];
    EVP_PKEY_CTX_free(slot->ctx);
    slot->pkey = pkey;
    slot->alg = alg;
    slot->ctx = ctx;
    return ctx;
}

/* ---- verify ------------------------------------------------------------------------------ */

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;

    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

/*
 * RFC 7518 §3.4: an ES256 signature is r||s, 32 bytes each. OpenSSL wants DER. Values 0 and
 * >= n are refused here, before OpenSSL sees them (Wycheproof "RangeCheck" cases).
 */
static mesh_err_t es256_raw_to_der(const uint8_t *sig, size_t siglen, uint8_t *der, size_t cap,
                                   size_t *der_len)
{
    ECDSA_SIG *es = NULL;
    BIGNUM *r = NULL, *s = NULL;
    unsigned char *p = der;
    int n;

    if (siglen != 2 * ES256_HALF) {
        return mesh_err_set(MESH_ERR_SIGNATURE, "ES256 signature is %zu bytes, expected 64",
                            siglen);
    }
    for (size_t h = 0; h < 2; h++) {
        const uint8_t *v = sig + h * ES256_HALF;
        if (all_zero(v, ES256_HALF) || memcmp(v, p256_order, ES256_HALF) >= 0) {
            return mesh_err_set(MESH_ERR_SIGNATURE, "ES256 signature %s is 0 or not below n",
                                h == 0 ? "r" : "s");
        }
    }
    es = ECDSA_SIG_new();
    r = BN_bin2bn(sig, ES256_HALF, NULL);
    s = BN_bin2bn(sig + ES256_HALF, ES256_HALF, NULL);
    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return mesh_err_openssl(MESH_ERR_INTERNAL, "ES256 signature conversion");
    }
    if (i2d_ECDSA_SIG(es, NULL) > (int)cap) {
        ECDSA_SIG_free(es);
        return mesh_err_set(MESH_ERR_INTERNAL, "ES256 DER signature too large");
    }
    n = i2d_ECDSA_SIG(es, &p);
    ECDSA_SIG_free(es);
    if (n <= 0) {
        return mesh_err_openssl(MESH_ERR_INTERNAL, "ES256 signature conversion");
    }
    *der_len = (size_t)n;
    return MESH_OK;
}

static mesh_err_t verify_eddsa(const mesh_key_t *key, const uint8_t *msg, size_t len,
                               const uint8_t *sig, size_t siglen)
{
    EVP_MD_CTX *mctx;
    int ok;

    if (siglen != 64) {
        return mesh_err_set(MESH_ERR_SIGNATURE, "EdDSA signature is %zu bytes, expected 64",
                            siglen);
    }
    mctx = EVP_MD_CTX_new();
    if (mctx == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "EdDSA verify: out of memory");
    }
    ok = EVP_DigestVerifyInit_ex(mctx, NULL, NULL, NULL, NULL, mesh_key_evp(key), NULL) == 1 &&
         EVP_DigestVerify(mctx, sig, siglen, msg, len) == 1;
    EVP_MD_CTX_free(mctx);
    ERR_clear_error();
    return ok ? MESH_OK : mesh_err_set(MESH_ERR_SIGNATURE, "EdDSA signature does not verify");
}

mesh_err_t mesh_sig_verify(const mesh_key_t *key, const uint8_t *msg, size_t len,
                           const uint8_t *sig, size_t siglen)
{
    mesh_alg_t alg;
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    uint8_t der[80];
    size_t der_len = 0;
    EVP_PKEY_CTX *ctx;
    bool owned = false;
    int ok;

    if (key == NULL || (msg == NULL && len > 0) || sig == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "signature verify: NULL argument");
    }
    alg = mesh_key_alg(key);
    if (alg == MESH_ALG_EDDSA) {
        return verify_eddsa(key, msg, len, sig, siglen);
    }
    if (alg != MESH_ALG_RS256 && alg != MESH_ALG_PS256 && alg != MESH_ALG_ES256) {
        return mesh_err_set(MESH_ERR_ALG_NOT_ALLOWED, "key has no usable algorithm");
    }
    if (alg == MESH_ALG_ES256) {
        mesh_err_t rc = es256_raw_to_der(sig, siglen, der, sizeof(der), &der_len);
        if (rc != MESH_OK) {
            return rc;
        }
        sig = der;
        siglen = der_len;
    }
    if (sha256() == NULL || EVP_Digest(msg, len, digest, &dlen, sha256(), NULL) != 1) {
        return mesh_err_openssl(MESH_ERR_INTERNAL, "SHA-256");
    }
    ctx = verify_ctx_get(key, &owned);
    if (ctx == NULL) {
        return mesh_err_openssl(MESH_ERR_INTERNAL, "verify context");
    }
    ok = EVP_PKEY_verify(ctx, sig, siglen, digest, dlen);
    if (owned) {
        EVP_PKEY_CTX_free(ctx);
    }
    if (ok != 1) {
        ERR_clear_error();
        return mesh_err_set(MESH_ERR_SIGNATURE, "%s signature does not verify", mesh_alg_name(alg));
    }
    return MESH_OK;
}

/* ---- sign -------------------------------------------------------------------------------- */

static mesh_err_t es256_der_to_raw(const uint8_t *der, size_t der_len, uint8_t *sig)
{
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    const BIGNUM *r, *s;
    int ok;

    if (es == NULL) {
        return mesh_err_openssl(MESH_ERR_INTERNAL, "ES256 signature conversion");
    }
    ECDSA_SIG_get0(es, &r, &s);
    ok = BN_bn2binpad(r, sig, ES256_HALF) == ES256_HALF &&
         BN_bn2binpad(s, sig + ES256_HALF, ES256_HALF) == ES256_HALF;
    ECDSA_SIG_free(es);
    return ok ? MESH_OK : mesh_err_set(MESH_ERR_INTERNAL, "ES256 signature conversion");
}

mesh_err_t mesh_sig_sign(const mesh_key_t *key, const uint8_t *msg, size_t len, uint8_t *sig,
                         size_t cap, size_t *siglen)
{
    mesh_alg_t alg;
    EVP_MD_CTX *mctx = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    uint8_t der[80];
    size_t n = 0;
    mesh_err_t rc = MESH_ERR_INTERNAL;

    if (key == NULL || (msg == NULL && len > 0) || sig == NULL || siglen == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "sign: NULL argument");
    }
    if (!mesh_key_is_private(key)) {
        return mesh_err_set(MESH_ERR_KEY_NOT_PRIVATE, "signing needs a private key");
    }
    alg = mesh_key_alg(key);
    mctx = EVP_MD_CTX_new();
    if (mctx == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "sign: out of memory");
    }
    if (EVP_DigestSignInit_ex(mctx, &pctx, alg == MESH_ALG_EDDSA ? NULL : "SHA256", NULL, NULL,
                              mesh_key_evp(key), NULL) != 1) {
        rc = mesh_err_openssl(MESH_ERR_INTERNAL, "sign init");
        goto out;
    }
    if (alg == MESH_ALG_PS256 && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                                  EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA256", NULL) != 1 ||
                                  EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) != 1)) {
        rc = mesh_err_openssl(MESH_ERR_INTERNAL, "PS256 parameters");
        goto out;
    }
    if (EVP_DigestSign(mctx, NULL, &n, msg, len) != 1 || n > MESH_SIG_MAX ||
        (alg != MESH_ALG_ES256 && n > cap)) {
        rc = mesh_err_openssl(MESH_ERR_INTERNAL, "signature size");
        goto out;
    }
    if (alg == MESH_ALG_ES256) {
        n = sizeof(der);
        if (cap < 2 * ES256_HALF || EVP_DigestSign(mctx, der, &n, msg, len) != 1) {
            rc = mesh_err_openssl(MESH_ERR_INTERNAL, "ES256 sign");
            goto out;
        }
        rc = es256_der_to_raw(der, n, sig);
        if (rc == MESH_OK) {
            *siglen = 2 * ES256_HALF;
        }
        goto out;
    }
    if (EVP_DigestSign(mctx, sig, &n, msg, len) != 1) {
        rc = mesh_err_openssl(MESH_ERR_INTERNAL, "sign");
        goto out;
    }
    *siglen = n;
    rc = MESH_OK;
out:
    EVP_MD_CTX_free(mctx);
    return rc;
}

mesh_err_t mesh_random_bytes(uint8_t *buf, size_t n)
{
    if (RAND_bytes(buf, (int)n) != 1) {
        return mesh_err_openssl(MESH_ERR_INTERNAL, "RAND_bytes");
    }
    return MESH_OK;
}
