/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A verifier that checks the presenting certificate itself (trust_bundle_path, crl_path):
 * mesh_verify() and mesh_verify_pem() put that check in front of the token checks of
 * verify.c. Verdicts are remembered per presented certificate (the SHA-256 of its bytes) in a
 * bounded table, each until the earliest notAfter of its chain and nextUpdate of the CRLs, so
 * the hot path is one hash and one lookup; X.509 work is in x509_verify.c.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/limits.h>

#include "internal.h"
#include "verifier_internal.h"
#include "x509_internal.h"

#define MEMO_SLOTS   1024 /* remembered verdicts (direct-mapped: a collision replaces) */
#define MEMO_STRIPES 16
#define MEMO_DETAIL  224

typedef struct {
    uint8_t key[MESH_SHA256_LEN]; /* SHA-256 of the presented bytes */
    bool used, pem;
    uint64_t gen; /* trust material it was judged against */
    int64_t until;
    mesh_err_t rc;
    char detail[MEMO_DETAIL]; /* a refusal's reason, replayed on a hit */
    uint8_t *der;             /* accepted PEM chains: the leaf, for the token binding */
    size_t der_len;
} memo_slot_t;

struct mesh_peer_trust {
    char *bundle_path, *crl_path;
    pthread_mutex_t mu; /* guards trust and gen together (a reload swaps both) */
    mesh_trust_t *trust;
    atomic_uint_fast64_t gen;
    atomic_uint_fast64_t checks; /* full verifications: memo misses */
    pthread_mutex_t locks[MEMO_STRIPES];
    memo_slot_t slots[MEMO_SLOTS];
};

static void peer_free(mesh_peer_trust_t *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < MEMO_SLOTS; i++) {
        free(p->slots[i].der);
    }
    for (size_t i = 0; i < MEMO_STRIPES; i++) {
        pthread_mutex_destroy(&p->locks[i]);
    }
    pthread_mutex_destroy(&p->mu);
    mesh_trust_free(p->trust);
    free(p->bundle_path);
    free(p->crl_path);
    free(p);
}

mesh_err_t mesh_verifier_peer_setup(mesh_verifier_t *v)
{
    const struct mesh_verifier_opts *o = &v->o;
    mesh_peer_trust_t *p;
    mesh_err_t rc;

    if (o->trust_bundle_path == NULL) {
        return o->crl_path == NULL
                   ? MESH_OK
                   : mesh_err_set(MESH_ERR_CONFIG, "verifier options: crl_path "
                                                   "needs trust_bundle_path (the CAs whose CRLs "
                                                   "they are)");
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "verifier trust bundle");
    }
    pthread_mutex_init(&p->mu, NULL);
    for (size_t i = 0; i < MEMO_STRIPES; i++) {
        pthread_mutex_init(&p->locks[i], NULL);
    }
    p->bundle_path = strdup(o->trust_bundle_path);
    p->crl_path = o->crl_path != NULL ? strdup(o->crl_path) : NULL;
    if (p->bundle_path == NULL || (o->crl_path != NULL && p->crl_path == NULL)) {
        peer_free(p);
        return mesh_err_set(MESH_ERR_NOMEM, "verifier trust bundle");
    }
    rc = mesh_trust_load(p->bundle_path, p->crl_path, &p->trust);
    if (rc != MESH_OK) {
        peer_free(p);
        return rc;
    }
    v->peer = p;
    return MESH_OK;
}

void mesh_verifier_peer_free(mesh_verifier_t *v)
{
    peer_free(v->peer);
    v->peer = NULL;
}

uint64_t mesh_verifier_peer_checks(const mesh_verifier_t *v)
{
    return v->peer != NULL ? atomic_load(&v->peer->checks) : 0;
}

MESH_EXPORT mesh_err_t mesh_verifier_reload_trust(mesh_verifier_t *v)
{
    mesh_trust_t *fresh = NULL, *old;
    mesh_err_t rc;

    mesh_err_clear();
    if (v == NULL || v->peer == NULL) {
        return mesh_err_set(MESH_ERR_CONFIG, "this verifier has no trust bundle "
                                             "(trust_bundle_path) to reload");
    }
    rc = mesh_trust_load(v->peer->bundle_path, v->peer->crl_path, &fresh);
    if (rc != MESH_OK) {
        return rc; /* the old material stays in force */
    }
    pthread_mutex_lock(&v->peer->mu);
    old = v->peer->trust;
    v->peer->trust = fresh;
    atomic_fetch_add(&v->peer->gen, 1); /* every remembered verdict is now stale */
    pthread_mutex_unlock(&v->peer->mu);
    mesh_trust_free(old);
    return MESH_OK;
}

static memo_slot_t *slot_of(mesh_peer_trust_t *p, const uint8_t key[MESH_SHA256_LEN],
                            pthread_mutex_t **lock)
{
    uint64_t h;
    size_t i;

    memcpy(&h, key, sizeof(h));
    i = (size_t)(h % MEMO_SLOTS);
    *lock = &p->locks[i % MEMO_STRIPES];
    return &p->slots[i];
}

/* A remembered verdict: true with *rc (and for an accepted PEM chain *der, new). */
static bool memo_get(mesh_peer_trust_t *p, const uint8_t key[MESH_SHA256_LEN], bool pem,
                     int64_t now, mesh_err_t *rc, uint8_t **der, size_t *der_len)
{
    pthread_mutex_t *lock;
    memo_slot_t *s = slot_of(p, key, &lock);
    bool hit = false;

    pthread_mutex_lock(lock);
    if (s->used && s->pem == pem && s->gen == atomic_load(&p->gen) && now < s->until &&
        memcmp(s->key, key, MESH_SHA256_LEN) == 0) {
        hit = true;
        *rc = s->rc;
        if (s->rc != MESH_OK) {
            mesh_err_set(s->rc, "%s", s->detail);
        } else if (pem) {
            *der = malloc(s->der_len);
            if (*der == NULL) {
                *rc = mesh_err_set(MESH_ERR_NOMEM, "peer certificate");
            } else {
                memcpy(*der, s->der, s->der_len);
                *der_len = s->der_len;
            }
        }
    }
    pthread_mutex_unlock(lock);
    return hit;
}

static void memo_put(mesh_peer_trust_t *p, const uint8_t key[MESH_SHA256_LEN], bool pem,
                     uint64_t gen, mesh_err_t rc, const mesh_trust_verdict_t *vd)
{
    pthread_mutex_t *lock;
    memo_slot_t *s = slot_of(p, key, &lock);
    uint8_t *der = NULL;

    if (rc == MESH_OK && pem && (der = malloc(vd->leaf_len)) == NULL) {
        return; /* not remembered: judged again next time */
    }
    if (der != NULL) {
        memcpy(der, vd->leaf_der, vd->leaf_len);
    }
    pthread_mutex_lock(lock);
    free(s->der);
    memcpy(s->key, key, MESH_SHA256_LEN);
    s->used = true;
    s->pem = pem;
    s->gen = gen;
    s->until = vd->until;
    s->rc = rc;
    snprintf(s->detail, sizeof(s->detail), "%s", rc != MESH_OK ? mesh_err_detail() : "");
    s->der = der;
    s->der_len = der != NULL ? vd->leaf_len : 0;
    pthread_mutex_unlock(lock);
}

/* The verdict on presented bytes: remembered, or judged now against the current material. */
static mesh_err_t peer_check(mesh_verifier_t *v, const void *in, size_t len, bool pem,
                             uint8_t **der, size_t *der_len)
{
    mesh_peer_trust_t *p = v->peer;
    uint8_t key[MESH_SHA256_LEN];
    int64_t now = mesh_verifier_now(v);
    mesh_trust_verdict_t vd;
    mesh_trust_t *t;
    uint64_t gen;
    mesh_err_t rc;

    mesh_sha256(in, len, key);
    if (memo_get(p, key, pem, now, &rc, der, der_len)) {
        return rc;
    }
    pthread_mutex_lock(&p->mu);
    t = mesh_trust_ref(p->trust);
    gen = atomic_load(&p->gen);
    pthread_mutex_unlock(&p->mu);
    atomic_fetch_add(&p->checks, 1);
    rc = mesh_trust_verify(t, now, in, len, pem, &vd);
    mesh_trust_free(t);
    if (rc == MESH_OK || rc == MESH_ERR_PEER_CERT) {
        memo_put(p, key, pem, gen, rc, &vd);
    }
    if (rc == MESH_OK && pem) {
        *der = vd.leaf_der;
        *der_len = vd.leaf_len;
    } else {
        free(vd.leaf_der);
    }
    return rc;
}

MESH_EXPORT mesh_err_t mesh_verify(mesh_verifier_t *v, const char *authorization,
                                   const uint8_t *peer_cert_der, size_t peer_cert_len,
                                   const char *required_scope, mesh_identity_t **identity)
{
    mesh_err_t peer_rc = MESH_OK;

    if (v->peer != NULL && peer_cert_der != NULL && peer_cert_len > 0) {
        peer_rc = peer_cert_len > MESH_MAX_PEM_BYTES
                      ? mesh_err_set(MESH_ERR_LIMIT,
                                     "peer certificate of %zu bytes, over the "
                                     "%d-byte limit",
                                     peer_cert_len, MESH_MAX_PEM_BYTES)
                      : peer_check(v, peer_cert_der, peer_cert_len, false, NULL, NULL);
    }
    return mesh_verify_core(v, authorization, peer_cert_der, peer_cert_len, required_scope,
                            identity, peer_rc);
}

MESH_EXPORT mesh_err_t mesh_verify_pem(mesh_verifier_t *v, const char *authorization,
                                       const char *pem_chain, size_t pem_len,
                                       const char *required_scope, mesh_identity_t **identity)
{
    uint8_t *der = NULL;
    size_t der_len = 0;
    mesh_err_t rc = MESH_OK;

    if (v->peer == NULL) {
        rc = mesh_err_set(MESH_ERR_CONFIG,
                          "mesh_verify_pem needs a verifier with a trust "
                          "bundle (trust_bundle_path): a forwarded certificate is not "
                          "checked by any TLS layer");
    } else if (pem_len > MESH_MAX_PEM_BYTES) {
        rc = mesh_err_set(MESH_ERR_LIMIT,
                          "peer certificate chain of %zu bytes, over the "
                          "%d-byte limit",
                          pem_len, MESH_MAX_PEM_BYTES);
    } else if (pem_chain != NULL && pem_len > 0) {
        rc = peer_check(v, pem_chain, pem_len, true, &der, &der_len);
    }
    rc = mesh_verify_core(v, authorization, der, der_len, required_scope, identity, rc);
    free(der);
    return rc;
}
