/* SPDX-License-Identifier: Apache-2.0 */
/* The revocation set: a seeded, striped, growable hash table (feed reading: revocations_feed.c). */
#include "revocations.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/limits.h>

#include "internal.h"
#include "revocations_internal.h"
#include <mesh/util.h>

/* ---- SipHash-2-4 ------------------------------------------------------------------------- */

/*
 * The reference algorithm (https://github.com/veorq/SipHash, CC0): 2 compression rounds per
 * 8-byte word, 4 finalization rounds. A keyed PRF, so an issuer-side attacker who can choose
 * jtis or subjects cannot aim them all at one bucket without knowing this set's key.
 */
#define ROTL64(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL64(v1, 13);                                                                       \
        v1 ^= v0;                                                                                  \
        v0 = ROTL64(v0, 32);                                                                       \
        v2 += v3;                                                                                  \
        v3 = ROTL64(v3, 16);                                                                       \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL64(v3, 21);                                                                       \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL64(v1, 17);                                                                       \
        v1 ^= v2;                                                                                  \
        v2 = ROTL64(v2, 32);                                                                       \
    } while (0)

static uint64_t le64(const uint8_t *p)
{
    uint64_t w = 0;

    for (int i = 7; i >= 0; i--) {
        w = (w << 8) | p[i];
    }
    return w;
}

uint64_t mesh_siphash24(const uint8_t k[16], const void *msg, size_t len)
{
    const uint8_t *m = msg;
    uint64_t k0 = le64(k), k1 = le64(k + 8);
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
    uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
    uint64_t v3 = 0x7465646279746573ULL ^ k1;
    uint64_t b = (uint64_t)len << 56;
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        uint64_t w = le64(m + i);
        v3 ^= w;
        SIPROUND;
        SIPROUND;
        v0 ^= w;
    }
    for (size_t j = 0; i + j < len; j++) {
        b |= (uint64_t)m[i + j] << (8 * j);
    }
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- the set ----------------------------------------------------------------------------- */

static const char *const state_text[] = {
    [REV_COMPLETE] = "",
    [REV_FULL] = "the revocation set is full",
    [REV_PAGES] = "the revocation feed was not read to its end",
    [REV_UNREAD] = "a revocation feed page could not be read",
};

mesh_err_t mesh_revset_new(mesh_revset_t **out)
{
    mesh_revset_t *s = calloc(1, sizeof(*s));
    int i = 0;

    if (s == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "revocation set");
    }
    if (mesh_random_bytes(s->key, sizeof(s->key)) != MESH_OK) {
        free(s);
        return mesh_err_set(MESH_ERR_INTERNAL, "no random key for the revocation set");
    }
    for (; i < REV_STRIPES; i++) {
        s->stripes[i].buckets = calloc(REV_BUCKETS_MIN, sizeof(rev_node_t *));
        if (s->stripes[i].buckets == NULL) {
            break;
        }
        s->stripes[i].nbuckets = REV_BUCKETS_MIN;
        pthread_rwlock_init(&s->stripes[i].lock, NULL);
    }
    s->nstripes = (size_t)i;
    pthread_mutex_init(&s->poll_mu, NULL);
    pthread_mutex_init(&s->state_mu, NULL);
    atomic_init(&s->max, MESH_MAX_REVOKED);
    if (i < REV_STRIPES) {
        mesh_revset_free(s);
        return mesh_err_set(MESH_ERR_NOMEM, "revocation set");
    }
    *out = s;
    return MESH_OK;
}

void mesh_revset_free(mesh_revset_t *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->nstripes; i++) {
        rev_stripe_t *st = &s->stripes[i];
        for (size_t b = 0; b < st->nbuckets; b++) {
            rev_node_t *n = st->buckets[b];
            while (n != NULL) {
                rev_node_t *next = n->next;
                free(n);
                n = next;
            }
        }
        free(st->buckets);
        pthread_rwlock_destroy(&st->lock);
    }
    pthread_mutex_destroy(&s->poll_mu);
    pthread_mutex_destroy(&s->state_mu);
    free(s);
}

void mesh_revset_set_max(mesh_revset_t *s, size_t max)
{
    atomic_store(&s->max, max);
}

uint64_t mesh_revset_hash(const mesh_revset_t *s, mesh_rev_kind_t kind, const char *key)
{
    return mesh_siphash24(s->key[kind], key, strlen(key));
}

static rev_stripe_t *stripe_of(mesh_revset_t *s, uint64_t h)
{
    return &s->stripes[h >> (64 - REV_STRIPE_BITS)];
}

static rev_node_t **bucket_of(rev_stripe_t *st, uint64_t h)
{
    return &st->buckets[h & (st->nbuckets - 1)];
}

static rev_node_t *find(rev_stripe_t *st, uint64_t h, mesh_rev_kind_t kind, const char *key,
                        size_t len)
{
    for (rev_node_t *n = *bucket_of(st, h); n != NULL; n = n->next) {
        if (n->h == h && n->kind == kind && n->len == len && memcmp(n->key, key, len) == 0) {
            return n;
        }
    }
    return NULL;
}

/* Looks `key` up; *iat_before (optional) gets the entry's. */
static bool lookup(mesh_revset_t *s, mesh_rev_kind_t kind, const char *key, int64_t *iat_before)
{
    uint64_t h;
    size_t len;
    rev_stripe_t *st;
    rev_node_t *n;

    if (key == NULL || atomic_load_explicit(&s->kind_count[kind], memory_order_relaxed) == 0) {
        return false;
    }
    len = strlen(key);
    h = mesh_siphash24(s->key[kind], key, len);
    st = stripe_of(s, h);
    pthread_rwlock_rdlock(&st->lock);
    n = find(st, h, kind, key, len);
    if (n != NULL && iat_before != NULL) {
        *iat_before = n->iat_before;
    }
    pthread_rwlock_unlock(&st->lock);
    return n != NULL;
}

bool mesh_revset_contains(mesh_revset_t *s, const char *jti)
{
    return lookup(s, MESH_REV_JTI, jti, NULL);
}

bool mesh_revset_sub_revoked(mesh_revset_t *s, const char *sub, int64_t iat)
{
    int64_t before = 0;

    return lookup(s, MESH_REV_SUB, sub, &before) && iat < before;
}

bool mesh_revset_x5t_revoked(mesh_revset_t *s, const char *x5t)
{
    return lookup(s, MESH_REV_X5T, x5t, NULL);
}

/* Doubles a stripe's buckets (under its write lock); on no memory it stays as it is. */
static void grow(rev_stripe_t *st)
{
    size_t nb = st->nbuckets * 2;
    rev_node_t **nbk = calloc(nb, sizeof(*nbk));

    if (nbk == NULL) {
        return; /* longer chains, still correct */
    }
    for (size_t b = 0; b < st->nbuckets; b++) {
        rev_node_t *n = st->buckets[b];
        while (n != NULL) {
            rev_node_t *next = n->next;
            n->next = nbk[n->h & (nb - 1)];
            nbk[n->h & (nb - 1)] = n;
            n = next;
        }
    }
    free(st->buckets);
    st->buckets = nbk;
    st->nbuckets = nb;
}

static const char *const kind_name[MESH_REV_KINDS] = {"jti", "sub", "x5t#S256"};

mesh_err_t mesh_revset_add_entry(mesh_revset_t *s, mesh_rev_kind_t kind, const char *key,
                                 int64_t iat_before, int64_t exp)
{
    size_t len = key != NULL ? strlen(key) : 0;
    size_t max = atomic_load(&s->max);
    uint64_t h;
    rev_stripe_t *st;
    rev_node_t *n;

    if (len == 0 || len > MESH_MAX_CLAIM_STRING) {
        return mesh_err_set(MESH_ERR_LIMIT, "revocation feed: %s of %zu bytes (1 to %d)",
                            kind_name[kind], len, MESH_MAX_CLAIM_STRING);
    }
    h = mesh_siphash24(s->key[kind], key, len);
    st = stripe_of(s, h);
    pthread_rwlock_wrlock(&st->lock);
    n = find(st, h, kind, key, len);
    if (n != NULL) {
        n->exp = exp > n->exp ? exp : n->exp;
        n->iat_before = iat_before > n->iat_before ? iat_before : n->iat_before;
        pthread_rwlock_unlock(&st->lock);
        return MESH_OK;
    }
    /* Reserve a place first: concurrent adds to other stripes cannot overshoot the max. */
    if (atomic_fetch_add(&s->count, 1) >= max) {
        atomic_fetch_sub(&s->count, 1);
        pthread_rwlock_unlock(&st->lock);
        return mesh_err_set(MESH_ERR_LIMIT, "revocation set holds its maximum of %zu entries", max);
    }
    n = malloc(sizeof(*n) + len + 1);
    if (n == NULL) {
        atomic_fetch_sub(&s->count, 1);
        pthread_rwlock_unlock(&st->lock);
        return mesh_err_set(MESH_ERR_NOMEM, "revocation set");
    }
    memcpy(n->key, key, len + 1);
    n->h = h;
    n->len = (uint32_t)len;
    n->kind = (uint8_t)kind;
    n->exp = exp;
    n->iat_before = iat_before;
    n->next = *bucket_of(st, h);
    *bucket_of(st, h) = n;
    atomic_fetch_add(&s->kind_count[kind], 1);
    if (++st->count > st->nbuckets * REV_LOAD && st->nbuckets < REV_BUCKETS_MAX) {
        grow(st);
    }
    pthread_rwlock_unlock(&st->lock);
    return MESH_OK;
}

mesh_err_t mesh_revset_add(mesh_revset_t *s, const char *jti, int64_t exp)
{
    return mesh_revset_add_entry(s, MESH_REV_JTI, jti, 0, exp);
}

void mesh_revset_prune(mesh_revset_t *s, int64_t before)
{
    for (size_t i = 0; i < s->nstripes; i++) {
        rev_stripe_t *st = &s->stripes[i];
        pthread_rwlock_wrlock(&st->lock);
        for (size_t b = 0; b < st->nbuckets; b++) {
            rev_node_t **pp = &st->buckets[b];
            while (*pp != NULL) {
                rev_node_t *n = *pp;
                if (n->exp < before) {
                    *pp = n->next;
                    atomic_fetch_sub(&s->kind_count[n->kind], 1);
                    atomic_fetch_sub(&s->count, 1);
                    st->count--;
                    free(n);
                } else {
                    pp = &n->next;
                }
            }
        }
        pthread_rwlock_unlock(&st->lock);
    }
}

size_t mesh_revset_count(mesh_revset_t *s)
{
    return atomic_load(&s->count);
}

size_t mesh_revset_count_kind(mesh_revset_t *s, mesh_rev_kind_t kind)
{
    return atomic_load(&s->kind_count[kind]);
}

/* ---- complete or not --------------------------------------------------------------------- */

void mesh_revset_mark(mesh_revset_t *s, rev_state_t state, const char *why)
{
    pthread_mutex_lock(&s->state_mu);
    snprintf(s->why, sizeof(s->why), "%s", why != NULL ? why : "");
    atomic_store_explicit(&s->state, (int)state, memory_order_release);
    pthread_mutex_unlock(&s->state_mu);
}

mesh_err_t mesh_revset_usable(mesh_revset_t *s)
{
    char why[sizeof(s->why)];
    int state = atomic_load_explicit(&s->state, memory_order_acquire);

    if (state == REV_COMPLETE) {
        return MESH_OK;
    }
    pthread_mutex_lock(&s->state_mu);
    state = atomic_load_explicit(&s->state, memory_order_relaxed);
    memcpy(why, s->why, sizeof(why));
    pthread_mutex_unlock(&s->state_mu);
    if (state == REV_COMPLETE) {
        return MESH_OK;
    }
    /* Fail closed: a token could be revoked by an entry this verifier does not hold. */
    return mesh_err_set(MESH_ERR_REVOCATIONS_INCOMPLETE,
                        "%s (%s); every token is refused until a poll reads the feed to its end",
                        state_text[state], why);
}
