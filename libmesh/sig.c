/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signature primitives: the one place that hands bytes and keys to OpenSSL for JWS.
 *
 * Speed: a verifier checks thousands of tokens per second against the same few public keys.
 * OpenSSL 3 spends a good part of a verification fetching algorithm implementations, so the
 * SHA-256 EVP_MD is fetched once per process and contexts are set up once and reused
 * (EVP_PKEY_sign/verify may run any number of times after one init): for public keys a verify
 * context per thread (no lock on the hot path); for private keys, sign and verify contexts kept
 * in the key itself, so nothing holding private material outlives mesh_key_free().
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
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

/* ---- reusable contexts ------------------------------------------------------------------- */

/*
 * Everything OpenSSL needs to sign or verify with one key, set up once: for RS256, PS256 and
 * ES256 a pkey ctx that signs or verifies a SHA-256 digest (EVP_PKEY_sign/verify may run any
 * number of times after one init); for EdDSA a digest-sign/verify ctx, re-armed before each use
 * with a NULL-key init (which keeps the key and the fetched algorithm).
 */
struct mesh_sig_ctx {
    EVP_PKEY_CTX *pctx;
    EVP_MD_CTX *mctx;
};

enum sig_op { OP_SIGN, OP_VERIFY };

static void sig_ctx_free(struct mesh_sig_ctx *c)
{
    if (c != NULL) {
        EVP_PKEY_CTX_free(c->pctx);
        EVP_MD_CTX_free(c->mctx);
        free(c);
    }
}

static bool pkey_ctx_setup(EVP_PKEY_CTX *ctx, mesh_alg_t alg, enum sig_op op)
{
    const EVP_MD *md = sha256();
    bool ok = md != NULL &&
              (op == OP_SIGN ? EVP_PKEY_sign_init(ctx) : EVP_PKEY_verify_init(ctx)) == 1 &&
              EVP_PKEY_CTX_set_signature_md(ctx, md) == 1;

    if (alg == MESH_ALG_RS256) {
        ok = ok && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1;
    } else if (alg == MESH_ALG_PS256) {
        /* RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash. */
        ok = ok && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, 32) == 1;
    }
    return ok;
}

/* A context for `op` with `pkey` under `alg`; fills *c (both members NULL on failure). */
static bool sig_ctx_setup(struct mesh_sig_ctx *c, EVP_PKEY *pkey, mesh_alg_t alg, enum sig_op op)
{
    bool ok;

    c->pctx = NULL;
    c->mctx = NULL;
    if (alg == MESH_ALG_EDDSA) {
        c->mctx = EVP_MD_CTX_new();
        ok = c->mctx != NULL &&
             (op == OP_SIGN
                  ? EVP_DigestSignInit_ex(c->mctx, NULL, NULL, NULL, NULL, pkey, NULL)
                  : EVP_DigestVerifyInit_ex(c->mctx, NULL, NULL, NULL, NULL, pkey, NULL)) == 1;
    } else {
        c->pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        ok = c->pctx != NULL && pkey_ctx_setup(c->pctx, alg, op);
    }
    if (!ok) {
        EVP_PKEY_CTX_free(c->pctx);
        EVP_MD_CTX_free(c->mctx);
        c->pctx = NULL;
        c->mctx = NULL;
    }
    return ok;
}

/*
 * Public keys: a verify context per thread for its last four keys. An entry's ctx holds a
 * reference to the EVP_PKEY, so while the entry lives no other key can take the same address:
 * the pointer is a safe cache key. Only public keys are kept here, so what a thread keeps after
 * mesh_key_free() is public material; a thread's entries are freed when it exits.
 */
#define VCACHE_SLOTS 4

struct vcache_entry {
    const EVP_PKEY *pkey;
    mesh_alg_t alg;
    struct mesh_sig_ctx ctx;
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
        EVP_PKEY_CTX_free(vc->e[i].ctx.pctx);
        EVP_MD_CTX_free(vc->e[i].ctx.mctx);
        memset(&vc->e[i], 0, sizeof(vc->e[i]));
    }
}

static void vcache_key_create(void)
{
    /* The destructor frees a thread's contexts when the thread exits. */
    (void)pthread_key_create(&vcache_key, vcache_release);
}

static struct mesh_sig_ctx *vcache_get(EVP_PKEY *pkey, mesh_alg_t alg)
{
    struct vcache *vc = &vcache;
    struct vcache_entry *slot;
    struct mesh_sig_ctx fresh;

    for (size_t i = 0; i < VCACHE_SLOTS; i++) {
        if (vc->e[i].pkey == pkey && vc->e[i].alg == alg) {
            return &vc->e[i].ctx;
        }
    }
    if (!sig_ctx_setup(&fresh, pkey, alg, OP_VERIFY)) {
        return NULL;
    }
    (void)pthread_once(&vcache_once, vcache_key_create);
    (void)pthread_setspecific(vcache_key, vc);
    slot = &vc->e[vc->next++ % VCACHE_SLOTS];
    EVP_PKEY_CTX_free(slot->ctx.pctx);
    EVP_MD_CTX_free(slot->ctx.mctx);
    slot->pkey = pkey;
    slot->alg = alg;
    slot->ctx = fresh;
    return &slot->ctx;
}

/* The slots of `key` for `op`. The key is const to its users; these slots are not its value. */
static _Atomic(struct mesh_sig_ctx *) *key_slots(const mesh_key_t *key, enum sig_op op)
{
    mesh_key_t *k = (mesh_key_t *)key;

    return op == OP_SIGN ? k->sign_ctx : k->verify_ctx;
}

/*
 * A context for `op` that only the calling thread uses until ctx_put(): from the thread's cache
 * (public keys, verify), else an idle one the key keeps, else a new one. *cached says it came
 * from the thread cache (ctx_put leaves it there).
 */
static struct mesh_sig_ctx *ctx_get(const mesh_key_t *key, enum sig_op op, bool *cached)
{
    _Atomic(struct mesh_sig_ctx *) *slots;
    struct mesh_sig_ctx *c;

    *cached = op == OP_VERIFY && !mesh_key_is_private(key);
    if (*cached) {
        return vcache_get(mesh_key_evp(key), mesh_key_alg(key));
    }
    slots = key_slots(key, op);
    for (size_t i = 0; i < MESH_KEY_CTX_SLOTS; i++) {
        c = atomic_exchange(&slots[i], NULL);
        if (c != NULL) {
            return c;
        }
    }
    c = malloc(sizeof(*c));
    if (c != NULL && !sig_ctx_setup(c, mesh_key_evp(key), mesh_key_alg(key), op)) {
        free(c);
        c = NULL;
    }
    return c;
}

/* Gives a context from ctx_get back: to an empty slot of the key, or freed when all are full. */
static void ctx_put(const mesh_key_t *key, enum sig_op op, struct mesh_sig_ctx *c, bool cached)
{
    _Atomic(struct mesh_sig_ctx *) *slots;

    if (cached || c == NULL) {
        return;
    }
    slots = key_slots(key, op);
    for (size_t i = 0; i < MESH_KEY_CTX_SLOTS; i++) {
        struct mesh_sig_ctx *empty = NULL;
        if (atomic_compare_exchange_strong(&slots[i], &empty, c)) {
            return;
        }
    }
    sig_ctx_free(c);
}

void mesh_sig_ctx_release(mesh_key_t *key)
{
    for (size_t i = 0; i < MESH_KEY_CTX_SLOTS; i++) {
        sig_ctx_free(atomic_exchange(&key->sign_ctx[i], NULL));
        sig_ctx_free(atomic_exchange(&key->verify_ctx[i], NULL));
    }
}

/* ---- ES256 signature form ---------------------------------------------------------------- */

/*
 * ES256 signatures are r||s, 32 bytes each (RFC 7518 §3.4); OpenSSL speaks DER, the
 * Ecdsa-Sig-Value SEQUENCE { r INTEGER, s INTEGER } (RFC 3279 §2.2.3). The conversions are
 * written out here rather than going through ECDSA_SIG and two BIGNUMs each way (five
 * allocations per signature): with 0 < r, s < n both fit in 33 content bytes, so every length
 * is a one-byte short form and the whole SEQUENCE is at most 72 bytes.
 */
#define ES256_DER_MAX (2 + 2 * (2 + ES256_HALF + 1))

/* An INTEGER holding the unsigned big-endian `v`: minimal, with a 0x00 when the top bit is set. */
static size_t der_put_uint(const uint8_t v[ES256_HALF], uint8_t *out)
{
    size_t skip = 0;
    size_t pad;

    while (skip < ES256_HALF - 1 && v[skip] == 0) {
        skip++;
    }
    pad = (v[skip] & 0x80) != 0;
    out[0] = 0x02;
    out[1] = (uint8_t)(ES256_HALF - skip + pad);
    out[2] = 0;
    memcpy(out + 2 + pad, v + skip, ES256_HALF - skip);
    return 2 + pad + ES256_HALF - skip;
}

/* Reads an INTEGER of OpenSSL's own output into 32 big-endian bytes; false when it is not one. */
static bool der_get_uint(const uint8_t **p, const uint8_t *end, uint8_t out[ES256_HALF])
{
    const uint8_t *v;
    size_t n;

    if (end - *p < 2 || (*p)[0] != 0x02 || (*p)[1] == 0 || (*p)[1] > end - *p - 2) {
        return false;
    }
    v = *p + 2;
    n = (*p)[1];
    *p = v + n;
    if ((v[0] & 0x80) != 0) {
        return false; /* negative */
    }
    if (v[0] == 0 && n > 1) {
        v++;
        n--;
    }
    if (n > ES256_HALF) {
        return false;
    }
    memset(out, 0, ES256_HALF - n);
    memcpy(out + ES256_HALF - n, v, n);
    return true;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;

    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

/* Values 0 and >= n are refused here, before OpenSSL sees them (Wycheproof "RangeCheck"). */
static mesh_err_t es256_raw_to_der(const uint8_t *sig, size_t siglen, uint8_t der[ES256_DER_MAX],
                                   size_t *der_len)
{
    size_t n = 2;

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
    n += der_put_uint(sig, der + n);
    n += der_put_uint(sig + ES256_HALF, der + n);
    der[0] = 0x30;
    der[1] = (uint8_t)(n - 2);
    *der_len = n;
    return MESH_OK;
}

static mesh_err_t es256_der_to_raw(const uint8_t *der, size_t der_len, uint8_t *sig)
{
    const uint8_t *p = der + 2;
    const uint8_t *end = der + der_len;

    if (der_len < 2 || der_len > ES256_DER_MAX || der[0] != 0x30 || der[1] != der_len - 2 ||
        !der_get_uint(&p, end, sig) || !der_get_uint(&p, end, sig + ES256_HALF) || p != end) {
        return mesh_err_set(MESH_ERR_INTERNAL, "ES256 signature conversion: unexpected DER");
    }
    return MESH_OK;
}

/* ---- verify ------------------------------------------------------------------------------ */

static mesh_err_t verify_eddsa(const mesh_key_t *key, const uint8_t *msg, size_t len,
                               const uint8_t *sig, size_t siglen)
{
    struct mesh_sig_ctx *c;
    bool cached = false;
    int ok;

    if (siglen != 64) {
        return mesh_err_set(MESH_ERR_SIGNATURE, "EdDSA signature is %zu bytes, expected 64",
                            siglen);
    }
    c = ctx_get(key, OP_VERIFY, &cached);
    if (c == NULL) {
        return mesh_err_openssl(MESH_ERR_INTERNAL, "EdDSA verify context");
    }
    ok = EVP_DigestVerifyInit_ex(c->mctx, NULL, NULL, NULL, NULL, NULL, NULL) == 1 &&
         EVP_DigestVerify(c->mctx, sig, siglen, msg, len) == 1;
    ctx_put(key, OP_VERIFY, c, cached);
    ERR_clear_error();
    return ok ? MESH_OK : mesh_err_set(MESH_ERR_SIGNATURE, "EdDSA signature does not verify");
}

mesh_err_t mesh_sig_verify(const mesh_key_t *key, const uint8_t *msg, size_t len,
                           const uint8_t *sig, size_t siglen)
{
    mesh_alg_t alg;
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    uint8_t der[ES256_DER_MAX];
    size_t der_len = 0;
    struct mesh_sig_ctx *c;
    bool cached = false;
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
        mesh_err_t rc = es256_raw_to_der(sig, siglen, der, &der_len);
        if (rc != MESH_OK) {
            return rc;
        }
        sig = der;
        siglen = der_len;
    }
    if (sha256() == NULL || EVP_Digest(msg, len, digest, &dlen, sha256(), NULL) != 1) {
        return mesh_err_openssl(MESH_ERR_INTERNAL, "SHA-256");
    }
    c = ctx_get(key, OP_VERIFY, &cached);
    if (c == NULL) {
        return mesh_err_openssl(MESH_ERR_INTERNAL, "verify context");
    }
    ok = EVP_PKEY_verify(c->pctx, sig, siglen, digest, dlen);
    ctx_put(key, OP_VERIFY, c, cached);
    if (ok != 1) {
        ERR_clear_error();
        return mesh_err_set(MESH_ERR_SIGNATURE, "%s signature does not verify", mesh_alg_name(alg));
    }
    return MESH_OK;
}

/* ---- sign -------------------------------------------------------------------------------- */

mesh_err_t mesh_sig_verify_hmac(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t len,
                                const uint8_t *mac, size_t mac_len)
{
    uint8_t want[EVP_MAX_MD_SIZE];
    size_t want_len = 0;
    bool ok;

    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, key_len, msg, len, want, sizeof(want),
                  &want_len) == NULL ||
        want_len != MESH_HS256_LEN) {
        OPENSSL_cleanse(want, sizeof(want));
        return mesh_err_openssl(MESH_ERR_INTERNAL, "HMAC-SHA256");
    }
    /* STYLE.md: a MAC is compared in constant time (CRYPTO_memcmp). */
    ok = mac_len == MESH_HS256_LEN && CRYPTO_memcmp(want, mac, MESH_HS256_LEN) == 0;
    OPENSSL_cleanse(want, sizeof(want));
    return ok ? MESH_OK : mesh_err_set(MESH_ERR_SIGNATURE, "HS256 MAC does not verify");
}

mesh_err_t mesh_sig_sign(const mesh_key_t *key, const uint8_t *msg, size_t len, uint8_t *sig,
                         size_t cap, size_t *siglen)
{
    mesh_alg_t alg;
    struct mesh_sig_ctx *c;
    bool cached = false;
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    uint8_t der[ES256_DER_MAX];
    uint8_t *out = sig;
    size_t n;
    int ok;

    if (key == NULL || (msg == NULL && len > 0) || sig == NULL || siglen == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "sign: NULL argument");
    }
    if (!mesh_key_is_private(key)) {
        return mesh_err_set(MESH_ERR_KEY_NOT_PRIVATE, "signing needs a private key");
    }
    alg = mesh_key_alg(key);
    /* The largest signature the key makes must fit (ES256: the 64-byte r||s). */
    n = alg == MESH_ALG_ES256 ? 2 * ES256_HALF : (size_t)EVP_PKEY_get_size(mesh_key_evp(key));
    if (n > cap || n > MESH_SIG_MAX) {
        return mesh_err_set(MESH_ERR_INTERNAL, "signature buffer of %zu bytes is too small", cap);
    }
    if (alg != MESH_ALG_EDDSA &&
        (sha256() == NULL || EVP_Digest(msg, len, digest, &dlen, sha256(), NULL) != 1)) {
        return mesh_err_openssl(MESH_ERR_INTERNAL, "SHA-256");
    }
    c = ctx_get(key, OP_SIGN, &cached);
    if (c == NULL) {
        return mesh_err_openssl(MESH_ERR_INTERNAL, "sign context");
    }
    if (alg == MESH_ALG_EDDSA) {
        n = cap;
        ok = EVP_DigestSignInit_ex(c->mctx, NULL, NULL, NULL, NULL, NULL, NULL) == 1 &&
             EVP_DigestSign(c->mctx, sig, &n, msg, len) == 1;
    } else {
        if (alg == MESH_ALG_ES256) {
            out = der;
            n = sizeof(der);
        } else {
            n = cap;
        }
        ok = EVP_PKEY_sign(c->pctx, out, &n, digest, dlen) == 1;
    }
    if (!ok) {
        /* A context that failed is not trusted for the next signature. */
        sig_ctx_free(c);
        return mesh_err_openssl(MESH_ERR_INTERNAL, "sign");
    }
    ctx_put(key, OP_SIGN, c, cached);
    if (alg == MESH_ALG_ES256) {
        mesh_err_t rc = es256_der_to_raw(der, n, sig);
        if (rc != MESH_OK) {
            return rc;
        }
        n = 2 * ES256_HALF;
    }
    *siglen = n;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_random_bytes(void *buf, size_t n)
{
    /* RAND_bytes takes an int: fill larger requests in pieces. */
    while (n > INT_MAX) {
        if (RAND_bytes(buf, INT_MAX) != 1) {
            return mesh_err_openssl(MESH_ERR_INTERNAL, "RAND_bytes");
        }
        buf = (uint8_t *)buf + INT_MAX;
        n -= INT_MAX;
    }
    if (RAND_bytes(buf, (int)n) != 1) {
        return mesh_err_openssl(MESH_ERR_INTERNAL, "RAND_bytes");
    }
    return MESH_OK;
}

/*
 * Identifiers come from a per-thread block of RAND_bytes output, 64 at a time: one RAND_bytes
 * call costs about as much for 1 KiB as for 16 bytes (~0.6 us here), a few percent of signing a
 * token. The bytes are the same DRBG stream RAND_bytes would have handed out 16 at a time; each
 * is used once and wiped, so the block only ever holds identifiers not issued yet. They are
 * identifiers, not secrets (a jti is sent in every token): anyone able to read them in this
 * process's memory could read the signing key too. A fork copies the block into the child, and
 * parent and child would then issue the same jti values, so a fork handler moves a generation
 * counter and a block filled under another generation is thrown away. (glibc removes the
 * handler if libmesh is unloaded.)
 */
#define RID_PER_BLOCK 64

static atomic_uint fork_gen;
static pthread_once_t rid_once = PTHREAD_ONCE_INIT;

static void rid_after_fork_child(void)
{
    atomic_fetch_add_explicit(&fork_gen, 1, memory_order_relaxed);
}

static void rid_register(void)
{
    (void)pthread_atfork(NULL, NULL, rid_after_fork_child);
}

static _Thread_local struct {
    unsigned gen;
    size_t next; /* ids handed out from buf; RID_PER_BLOCK = empty */
    uint8_t buf[RID_PER_BLOCK][MESH_RANDOM_ID_BYTES];
} rid = {.next = RID_PER_BLOCK};

mesh_err_t mesh_random_id(uint8_t id[MESH_RANDOM_ID_BYTES])
{
    unsigned gen;

    (void)pthread_once(&rid_once, rid_register);
    gen = atomic_load_explicit(&fork_gen, memory_order_relaxed);
    if (rid.next >= RID_PER_BLOCK || rid.gen != gen) {
        if (RAND_bytes(&rid.buf[0][0], (int)sizeof(rid.buf)) != 1) {
            rid.next = RID_PER_BLOCK;
            return mesh_err_openssl(MESH_ERR_INTERNAL, "RAND_bytes");
        }
        rid.gen = gen;
        rid.next = 0;
    }
    memcpy(id, rid.buf[rid.next], MESH_RANDOM_ID_BYTES);
    OPENSSL_cleanse(rid.buf[rid.next], MESH_RANDOM_ID_BYTES);
    rid.next++;
    return MESH_OK;
}
