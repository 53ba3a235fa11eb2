/* SPDX-License-Identifier: Apache-2.0 */
#include "token_cache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwt_internal.h"
#include <mesh/util.h>
#include "internal.h"
#include "stripe.h"

#define TC_WAYS    4
#define TC_STRIPES 64

typedef struct {
    uint64_t h;
    uint64_t gen; /* key-set generation it was verified under */
    size_t len;
    char *tok;           /* a copy of the token */
    mesh_identity_t *id; /* NULL: empty way */
} tc_way_t;

typedef struct {
    alignas(MESH_CACHELINE) pthread_rwlock_t lock;
} tc_stripe_t;

struct mesh_tcache {
    uint64_t seed;
    size_t nsets;   /* a power of two */
    tc_way_t *ways; /* nsets * TC_WAYS */
    tc_stripe_t stripes[TC_STRIPES];
};

/* ---- the cache ---- */

mesh_err_t mesh_tcache_new(size_t entries, mesh_tcache_t **out)
{
    mesh_tcache_t *c;
    size_t nsets = 1;

    *out = NULL;
    if (entries == 0) {
        return MESH_OK;
    }
    while (nsets * TC_WAYS < entries && nsets < ((size_t)1 << 24)) {
        nsets <<= 1;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL || (c->ways = calloc(nsets * TC_WAYS, sizeof(tc_way_t))) == NULL) {
        free(c);
        return mesh_err_set(MESH_ERR_NOMEM, "token cache of %zu entries", entries);
    }
    c->nsets = nsets;
    if (mesh_random_bytes(&c->seed, sizeof(c->seed)) != MESH_OK) {
        free(c->ways);
        free(c);
        return mesh_err_set(MESH_ERR_INTERNAL, "no random seed for the token cache");
    }
    for (int i = 0; i < TC_STRIPES; i++) {
        pthread_rwlock_init(&c->stripes[i].lock, NULL);
    }
    *out = c;
    return MESH_OK;
}

void mesh_tcache_free(mesh_tcache_t *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->nsets * TC_WAYS; i++) {
        mesh_identity_free(c->ways[i].id);
        free(c->ways[i].tok);
    }
    for (int i = 0; i < TC_STRIPES; i++) {
        pthread_rwlock_destroy(&c->stripes[i].lock);
    }
    free(c->ways);
    free(c);
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

uint64_t mesh_tcache_hash(const mesh_tcache_t *c, const char *tok, size_t len)
{
    uint64_t h = c->seed ^ (len * 0x9e3779b97f4a7c15ULL);
    size_t i = 0;

    /* Word-at-a-time multiply-xorshift: an index, not an authenticator (see the header). */
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, tok + i, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
    }
    if (i < len) {
        uint64_t w = 0;
        memcpy(&w, tok + i, len - i);
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    }
    return mix(h);
}

static bool way_is(const tc_way_t *w, uint64_t h, const char *tok, size_t len)
{
    return w->id != NULL && w->h == h && w->len == len && memcmp(w->tok, tok, len) == 0;
}

mesh_identity_t *mesh_tcache_get(mesh_tcache_t *c, uint64_t h, const char *tok, size_t len,
                                 uint64_t generation)
{
    size_t set = (size_t)(h & (c->nsets - 1));
    tc_stripe_t *st = &c->stripes[set % TC_STRIPES];
    tc_way_t *w = &c->ways[set * TC_WAYS];
    mesh_identity_t *id = NULL;

    pthread_rwlock_rdlock(&st->lock);
    for (int i = 0; i < TC_WAYS; i++) {
        if (way_is(&w[i], h, tok, len)) {
            /* Verified with another key set than the current one: verify again. */
            id = w[i].gen == generation ? mesh_identity_ref(w[i].id) : NULL;
            break;
        }
    }
    pthread_rwlock_unlock(&st->lock);
    return id;
}

/* The token's own way (one entry per token), else an empty one, else the entry that expires
 * first (worth least). */
static int pick_way(const tc_way_t *w, uint64_t h, const char *tok, size_t len)
{
    int victim = -1;

    for (int i = 0; i < TC_WAYS; i++) {
        if (way_is(&w[i], h, tok, len)) {
            return i;
        }
        if (victim < 0 ||
            (w[victim].id != NULL && (w[i].id == NULL || w[i].id->exp < w[victim].id->exp))) {
            victim = i;
        }
    }
    return victim;
}

void mesh_tcache_put(mesh_tcache_t *c, uint64_t h, const char *tok, size_t len, mesh_identity_t *id,
                     uint64_t generation)
{
    size_t set = (size_t)(h & (c->nsets - 1));
    tc_stripe_t *st = &c->stripes[set % TC_STRIPES];
    tc_way_t *w = &c->ways[set * TC_WAYS];
    mesh_identity_t *old = NULL;
    char *old_tok = NULL;
    char *copy = malloc(len);
    int victim;

    if (copy == NULL) {
        return; /* not caching is always correct */
    }
    memcpy(copy, tok, len);
    pthread_rwlock_wrlock(&st->lock);
    victim = pick_way(w, h, tok, len);
    if (w[victim].id != NULL && w[victim].gen > generation && way_is(&w[victim], h, tok, len)) {
        pthread_rwlock_unlock(&st->lock); /* a slower put of an older verification */
        free(copy);
        return;
    }
    old = w[victim].id;
    old_tok = w[victim].tok;
    w[victim].h = h;
    w[victim].gen = generation;
    w[victim].len = len;
    w[victim].tok = copy;
    w[victim].id = mesh_identity_ref(id);
    pthread_rwlock_unlock(&st->lock);
    mesh_identity_free(old);
    free(old_tok);
}

void mesh_tcache_remove(mesh_tcache_t *c, uint64_t h, const char *tok, size_t len)
{
    size_t set = (size_t)(h & (c->nsets - 1));
    tc_stripe_t *st = &c->stripes[set % TC_STRIPES];
    tc_way_t *w = &c->ways[set * TC_WAYS];
    mesh_identity_t *old = NULL;
    char *old_tok = NULL;

    pthread_rwlock_wrlock(&st->lock);
    for (int i = 0; i < TC_WAYS; i++) {
        if (way_is(&w[i], h, tok, len)) {
            old = w[i].id;
            old_tok = w[i].tok;
            w[i].id = NULL;
            w[i].tok = NULL;
            break;
        }
    }
    pthread_rwlock_unlock(&st->lock);
    mesh_identity_free(old);
    free(old_tok);
}

void mesh_tcache_purge_before(mesh_tcache_t *c, uint64_t generation)
{
    for (int s = 0; s < TC_STRIPES; s++) {
        tc_stripe_t *st = &c->stripes[s];
        pthread_rwlock_wrlock(&st->lock);
        for (size_t i = (size_t)s; i < c->nsets; i += TC_STRIPES) {
            tc_way_t *w = &c->ways[i * TC_WAYS];
            for (int k = 0; k < TC_WAYS; k++) {
                if (w[k].id != NULL && w[k].gen < generation) {
                    mesh_identity_free(w[k].id);
                    free(w[k].tok);
                    w[k].id = NULL;
                    w[k].tok = NULL;
                }
            }
        }
        pthread_rwlock_unlock(&st->lock);
    }
}
