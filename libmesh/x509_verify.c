/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The verifier's own check of a presenting certificate, for a verifier that cannot take the
 * chain on trust (a certificate forwarded by a proxy): X509_verify_cert against a trust bundle
 * and CRLs loaded once, where the first error is the verdict, then the rules of a mesh client
 * certificate (not a CA, EKU clientAuth, one SPIFFE ID).
 */
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <mesh/limits.h>

#include "internal.h"
#include "x509_internal.h"

/* Seconds a refusal is remembered: an input refused now may become valid (notBefore). */
#define NEGATIVE_TTL 10

struct mesh_trust {
    atomic_int refs;
    X509_STORE *store;
    STACK_OF(X509_NAME) * crl_issuers; /* the CAs a configured CRL speaks for */
    int64_t crl_next_update;           /* earliest nextUpdate of those CRLs; INT64_MAX: none */
};

static void subject_of(const X509 *x, char *out, size_t cap)
{
    if (x == NULL || X509_NAME_oneline(X509_get_subject_name(x), out, (int)cap) == NULL) {
        snprintf(out, cap, "(unknown subject)");
    }
}

static int64_t epoch_of(const ASN1_TIME *t, int64_t fallback)
{
    struct tm tm;

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
        return fallback;
    }
    return (int64_t)timegm(&tm);
}

/* Reads a PEM file of at most `max` bytes into a memory BIO over *buf (free() both). */
static mesh_err_t open_pem(const char *path, size_t max, char **buf, BIO **bio)
{
    size_t len = 0;
    mesh_err_t rc = mesh_file_read(path, max, buf, &len);

    if (rc != MESH_OK) {
        return rc;
    }
    *bio = BIO_new_mem_buf(*buf, (int)len);
    if (*bio == NULL) {
        free(*buf);
        *buf = NULL;
        return mesh_err_set(MESH_ERR_NOMEM, "reading %s", path);
    }
    return MESH_OK;
}

/* Roots and intermediates into the store; `cas` keeps them for checking the CRLs. */
static mesh_err_t load_bundle(mesh_trust_t *t, const char *path, STACK_OF(X509) * cas)
{
    char *buf = NULL, name[256];
    BIO *bio = NULL;
    X509 *x;
    bool root = false;
    mesh_err_t rc = open_pem(path, MESH_MAX_PEM_BYTES, &buf, &bio);

    if (rc != MESH_OK) {
        return rc;
    }
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        subject_of(x, name, sizeof(name));
        if (sk_X509_num(cas) >= MESH_MAX_TRUST_CERTS) {
            rc = mesh_err_set(MESH_ERR_CONFIG, "trust bundle %s: more than %d certificates", path,
                              MESH_MAX_TRUST_CERTS);
        } else if (X509_check_ca(x) == 0) {
            /* A service certificate here would be its own trust anchor. */
            rc = mesh_err_set(MESH_ERR_CONFIG,
                              "trust bundle %s: %s is not a CA certificate; "
                              "the bundle holds the mesh's root and intermediate CAs (ca.pem, "
                              "intermediate.pem), not service certificates",
                              path, name);
        } else if (X509_STORE_add_cert(t->store, x) != 1 || !sk_X509_push(cas, x)) {
            rc = mesh_err_openssl(MESH_ERR_INTERNAL, "trust bundle");
        } else {
            root = root || (X509_get_extension_flags(x) & EXFLAG_SS) != 0;
            continue;
        }
        X509_free(x);
        goto out;
    }
    ERR_clear_error();
    if (sk_X509_num(cas) == 0) {
        rc = mesh_err_set(MESH_ERR_CONFIG,
                          "trust bundle %s holds no PEM certificate (BEGIN "
                          "CERTIFICATE)",
                          path);
    } else if (!root) {
        rc = mesh_err_set(MESH_ERR_CONFIG,
                          "trust bundle %s holds no root (self-signed) CA; "
                          "add the mesh root (certs/ca.pem): a chain must end at a root",
                          path);
    }
out:
    BIO_free(bio);
    free(buf);
    return rc;
}

/* The bundle CA that signed `crl`, or NULL. */
static const X509 *crl_signer(const X509_CRL *crl, STACK_OF(X509) * cas)
{
    for (int i = 0; i < sk_X509_num(cas); i++) {
        X509 *ca = sk_X509_value(cas, i);
        if (X509_NAME_cmp(X509_get_subject_name(ca), X509_CRL_get_issuer(crl)) == 0 &&
            X509_CRL_verify((X509_CRL *)crl, X509_get0_pubkey(ca)) == 1) {
            return ca;
        }
    }
    ERR_clear_error();
    return NULL;
}

static mesh_err_t add_crl(mesh_trust_t *t, X509_CRL *crl, const char *path, STACK_OF(X509) * cas)
{
    char name[256];
    X509_NAME *issuer;
    int64_t next;

    if (X509_NAME_oneline(X509_CRL_get_issuer(crl), name, sizeof(name)) == NULL) {
        snprintf(name, sizeof(name), "(unknown issuer)");
    }
    /* A CRL no bundle CA signed would revoke nothing (OpenSSL cannot use it) and hide that
     * the revocations an operator expects are not in force: refuse it now. */
    if (crl_signer(crl, cas) == NULL) {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "CRL file %s: the CRL of %s is not signed by a CA "
                            "of the trust bundle; put its issuer in the bundle (mesh-ca's CRL: "
                            "certs/intermediate.pem), or give this mesh's crl.pem",
                            path, name);
    }
    issuer = X509_NAME_dup(X509_CRL_get_issuer(crl));
    if (issuer == NULL || !sk_X509_NAME_push(t->crl_issuers, issuer) ||
        X509_STORE_add_crl(t->store, crl) != 1) {
        X509_NAME_free(issuer);
        return mesh_err_openssl(MESH_ERR_INTERNAL, "CRL file");
    }
    next = epoch_of(X509_CRL_get0_nextUpdate(crl), INT64_MAX);
    if (next < t->crl_next_update) {
        t->crl_next_update = next;
    }
    return MESH_OK;
}

static mesh_err_t load_crls(mesh_trust_t *t, const char *path, STACK_OF(X509) * cas)
{
    char *buf = NULL;
    BIO *bio = NULL;
    X509_CRL *crl;
    int n = 0;
    mesh_err_t rc = open_pem(path, MESH_MAX_CRL_BYTES, &buf, &bio);

    if (rc != MESH_OK) {
        return rc;
    }
    while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
        rc = ++n > MESH_MAX_TRUST_CERTS
                 ? mesh_err_set(MESH_ERR_CONFIG, "CRL file %s: more than %d CRLs", path,
                                MESH_MAX_TRUST_CERTS)
                 : add_crl(t, crl, path, cas);
        X509_CRL_free(crl);
        if (rc != MESH_OK) {
            goto out;
        }
    }
    ERR_clear_error();
    if (n == 0) {
        rc = mesh_err_set(MESH_ERR_CONFIG, "CRL file %s holds no PEM CRL (BEGIN X509 CRL)", path);
        goto out;
    }
    /* Every certificate of a chain, not only the leaf: a revoked intermediate revokes all. */
    X509_STORE_set_flags(t->store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
out:
    BIO_free(bio);
    free(buf);
    return rc;
}

mesh_err_t mesh_trust_load(const char *bundle_path, const char *crl_path, mesh_trust_t **out)
{
    mesh_trust_t *t = calloc(1, sizeof(*t));
    STACK_OF(X509) *cas = sk_X509_new_null();
    mesh_err_t rc = MESH_OK;

    if (t == NULL || cas == NULL || (t->store = X509_STORE_new()) == NULL ||
        (t->crl_issuers = sk_X509_NAME_new_null()) == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "trust bundle");
        goto out;
    }
    atomic_init(&t->refs, 1);
    t->crl_next_update = INT64_MAX;
    /* No X509_V_FLAG_PARTIAL_CHAIN: an intermediate of the bundle helps build a chain but is
     * no anchor; every chain ends at a root of the bundle. */
    X509_STORE_set_depth(t->store, MESH_MAX_CHAIN_DEPTH);
    X509_STORE_set_purpose(t->store, X509_PURPOSE_SSL_CLIENT);
    X509_STORE_set_flags(t->store, X509_V_FLAG_X509_STRICT);
    rc = load_bundle(t, bundle_path, cas);
    if (rc == MESH_OK && crl_path != NULL) {
        rc = load_crls(t, crl_path, cas);
    }
out:
    sk_X509_pop_free(cas, X509_free);
    if (rc != MESH_OK) {
        mesh_trust_free(t);
        return rc;
    }
    *out = t;
    return MESH_OK;
}

mesh_trust_t *mesh_trust_ref(mesh_trust_t *t)
{
    if (t != NULL) {
        atomic_fetch_add(&t->refs, 1);
    }
    return t;
}

void mesh_trust_free(mesh_trust_t *t)
{
    if (t == NULL || atomic_fetch_sub(&t->refs, 1) > 1) {
        return;
    }
    X509_STORE_free(t->store);
    sk_X509_NAME_pop_free(t->crl_issuers, X509_NAME_free);
    free(t);
}

/* ---- one verification ---- */

typedef struct {
    const mesh_trust_t *t;
    int err;   /* the first error: the verdict */
    int depth; /* where it happened */
    char subject[256];
} vstate_t;

static bool crl_configured_for_issuer(const mesh_trust_t *t, const X509 *cert)
{
    const X509_NAME *issuer = X509_get_issuer_name(cert);

    for (int i = 0; i < sk_X509_NAME_num(t->crl_issuers); i++) {
        if (X509_NAME_cmp(sk_X509_NAME_value(t->crl_issuers, i), issuer) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * DESIGN "Client certificates": the first verification error is the verdict and nothing
 * lowers it. Once an error is kept, every later call (error or not) answers 0, so OpenSSL
 * stops and no later callback can turn the result into success. The one tolerated error is
 * a missing CRL for a certificate whose issuer has no CRL configured here (a root does not
 * publish one for its intermediate), and only while nothing has failed.
 */
static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
    vstate_t *st = X509_STORE_CTX_get_app_data(ctx);
    int err = X509_STORE_CTX_get_error(ctx);
    X509 *cur = X509_STORE_CTX_get_current_cert(ctx);

    if (st->err != X509_V_OK) {
        return 0;
    }
    if (ok) {
        return 1;
    }
    if (err == X509_V_ERR_UNABLE_TO_GET_CRL && cur != NULL &&
        !crl_configured_for_issuer(st->t, cur)) {
        return 1;
    }
    st->err = err != X509_V_OK ? err : X509_V_ERR_UNSPECIFIED;
    st->depth = X509_STORE_CTX_get_error_depth(ctx);
    subject_of(cur, st->subject, sizeof(st->subject));
    return 0;
}

/* The leaf as DER (exactly `len` bytes) or a PEM chain (leaf first); a new stack. */
static mesh_err_t parse_input(const void *in, size_t len, bool pem, STACK_OF(X509) * *out)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    BIO *bio = NULL;
    X509 *x;
    mesh_err_t rc = MESH_OK;

    if (sk == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "peer certificate");
    }
    if (!pem) {
        const unsigned char *p = in;
        x = d2i_X509(NULL, &p, (long)len);
        if (x == NULL || p != (const unsigned char *)in + len || !sk_X509_push(sk, x)) {
            X509_free(x);
            rc = mesh_err_set(MESH_ERR_PEER_CERT, "peer certificate: not one DER X.509 "
                                                  "certificate");
        }
        goto out;
    }
    bio = BIO_new_mem_buf(in, (int)len);
    while (bio != NULL && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (sk_X509_num(sk) >= MESH_MAX_CHAIN_DEPTH || !sk_X509_push(sk, x)) {
            X509_free(x);
            rc = mesh_err_set(MESH_ERR_PEER_CERT,
                              "peer certificate chain: more than %d "
                              "certificates",
                              MESH_MAX_CHAIN_DEPTH);
            goto out;
        }
    }
    if (sk_X509_num(sk) == 0) {
        rc = mesh_err_set(MESH_ERR_PEER_CERT,
                          "peer certificate chain holds no PEM certificate "
                          "(BEGIN CERTIFICATE; URL-decode a proxy's header first)");
    }
out:
    ERR_clear_error();
    BIO_free(bio);
    if (rc != MESH_OK) {
        sk_X509_pop_free(sk, X509_free);
        return rc;
    }
    *out = sk;
    return MESH_OK;
}

/* What a mesh client certificate is, once its chain holds. */
static mesh_err_t leaf_rules(X509 *leaf)
{
    uint32_t flags = X509_get_extension_flags(leaf);
    char *id = NULL;
    mesh_err_t rc;

    if ((flags & EXFLAG_INVALID) != 0) {
        return mesh_err_set(MESH_ERR_PEER_CERT, "peer certificate has a malformed extension");
    }
    if (X509_check_ca(leaf) != 0) {
        return mesh_err_set(MESH_ERR_PEER_CERT,
                            "peer certificate is a CA certificate "
                            "(basicConstraints CA:TRUE); a caller presents its service "
                            "certificate");
    }
    /* DESIGN "Identity": service certificates carry EKU clientAuth; one without an EKU at all
     * is not a mesh service certificate either. */
    if ((flags & EXFLAG_XKUSAGE) == 0 ||
        (X509_get_extended_key_usage(leaf) & XKU_SSL_CLIENT) == 0) {
        return mesh_err_set(MESH_ERR_PEER_CERT, "peer certificate lacks extended key usage "
                                                "clientAuth");
    }
    rc = mesh_x509_cert_spiffe_id(leaf, &id);
    free(id);
    if (rc == MESH_ERR_CERT) {
        char why[256];
        snprintf(why, sizeof(why), "%s", mesh_err_detail());
        return mesh_err_set(MESH_ERR_PEER_CERT, "peer %s", why);
    }
    return rc;
}

/* Until when a verdict holds: positive, the chain's earliest notAfter and the CRLs' earliest
 * nextUpdate; negative, a short while, and no later than a notBefore still to come. */
static int64_t verdict_until(const mesh_trust_t *t, STACK_OF(X509) * chain, int64_t now, bool ok)
{
    int64_t until = ok ? t->crl_next_update : now + NEGATIVE_TTL;

    for (int i = 0; i < sk_X509_num(chain); i++) {
        const X509 *x = sk_X509_value(chain, i);
        int64_t nb = epoch_of(X509_get0_notBefore(x), INT64_MIN);
        int64_t na = epoch_of(X509_get0_notAfter(x), INT64_MIN);
        if (ok && na < until) {
            until = na;
        }
        if (!ok && nb > now && nb < until) {
            until = nb;
        }
    }
    return until;
}

static mesh_err_t leaf_der(X509 *leaf, mesh_trust_verdict_t *out)
{
    int n = i2d_X509(leaf, NULL);
    unsigned char *p;

    out->leaf_der = n > 0 ? malloc((size_t)n) : NULL;
    if (out->leaf_der == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "peer certificate");
    }
    p = out->leaf_der;
    if (i2d_X509(leaf, &p) != n) {
        free(out->leaf_der);
        out->leaf_der = NULL;
        return mesh_err_openssl(MESH_ERR_INTERNAL, "peer certificate");
    }
    out->leaf_len = (size_t)n;
    return MESH_OK;
}

mesh_err_t mesh_trust_verify(const mesh_trust_t *t, int64_t now, const void *in, size_t len,
                             bool pem, mesh_trust_verdict_t *out)
{
    STACK_OF(X509) *input = NULL, *untrusted = NULL;
    X509_STORE_CTX *ctx = NULL;
    vstate_t st = {.t = t, .err = X509_V_OK};
    X509 *leaf;
    int ok;
    mesh_err_t rc = parse_input(in, len, pem, &input);

    memset(out, 0, sizeof(*out));
    if (rc != MESH_OK) {
        out->until = now + NEGATIVE_TTL;
        return rc;
    }
    leaf = sk_X509_value(input, 0);
    ctx = X509_STORE_CTX_new();
    untrusted = sk_X509_new_null();
    for (int i = 1; untrusted != NULL && i < sk_X509_num(input); i++) {
        if (!sk_X509_push(untrusted, sk_X509_value(input, i))) {
            sk_X509_free(untrusted);
            untrusted = NULL;
        }
    }
    if (ctx == NULL || untrusted == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "peer certificate");
        goto out;
    }
    if (X509_STORE_CTX_init(ctx, t->store, leaf, untrusted) != 1) {
        rc = mesh_err_openssl(MESH_ERR_INTERNAL, "X509_STORE_CTX_init");
        goto out;
    }
    X509_STORE_CTX_set_app_data(ctx, &st);
    X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
    X509_STORE_CTX_set_time(ctx, 0, (time_t)now); /* the verifier's clock */
    ok = X509_verify_cert(ctx);
    ERR_clear_error();
    if (st.err != X509_V_OK) {
        rc = mesh_err_set(MESH_ERR_PEER_CERT,
                          "peer certificate refused at chain depth %d (%s): "
                          "%s",
                          st.depth, st.subject, X509_verify_cert_error_string(st.err));
    } else if (ok != 1) {
        rc = mesh_err_set(MESH_ERR_PEER_CERT, "peer certificate refused: %s",
                          X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    } else {
        rc = leaf_rules(leaf);
    }
    if (rc == MESH_OK && pem) {
        rc = leaf_der(leaf, out);
    }
    if (rc == MESH_OK || rc == MESH_ERR_PEER_CERT) {
        STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
        out->until = verdict_until(t, chain != NULL ? chain : input, now, rc == MESH_OK);
    }
out:
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    sk_X509_pop_free(input, X509_free);
    return rc;
}
