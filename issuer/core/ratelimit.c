/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token buckets in a chained hash table with an LRU list, under one mutex. A take is a few
 * hundred nanoseconds; the issuer's cost per request is the signature, so one lock is enough
 * (striping would only matter far beyond what signing allows).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mesh/limits.h>

#include "ratelimit.h"

/* Retry-After never says more than a day, whatever the configured rate. */
#define RL_RETRY_MAX_S 86400

struct bucket {
    struct bucket *chain;         /* next in the hash slot */
    struct bucket *newer, *older; /* LRU list */
    uint64_t hash;
    double tokens;
    int64_t last_ms;
    char key[];
};

struct ratelimit {
    pthread_mutex_t mu;
    double rate;  /* tokens per second */
    double burst; /* bucket capacity */
    size_t max_keys, count, nslots;
    struct bucket **slots;
    struct bucket *newest, *oldest;
    uint64_t seed;
};

static uint64_t key_hash(uint64_t seed, const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ULL ^ seed; /* FNV-1a, seeded per limiter */

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

ratelimit_t *ratelimit_new(double rate, double burst, size_t max_keys)
{
    ratelimit_t *rl = NULL;
    size_t nslots = 16;

    if (!(rate > 0) || !(burst >= 1) || !isfinite(rate) || !isfinite(burst) || max_keys == 0 ||
        max_keys > SIZE_MAX / 4) {
        return NULL;
    }
    while (nslots < max_keys) {
        nslots *= 2;
    }
    rl = calloc(1, sizeof(*rl));
    if (rl == NULL || (rl->slots = calloc(nslots, sizeof(*rl->slots))) == NULL ||
        pthread_mutex_init(&rl->mu, NULL) != 0) {
        if (rl != NULL) {
            free(rl->slots);
        }
        free(rl);
        return NULL;
    }
    rl->rate = rate;
    rl->burst = burst;
    rl->max_keys = max_keys;
    rl->nslots = nslots;
    if (getentropy(&rl->seed, sizeof(rl->seed)) != 0) {
        rl->seed = (uint64_t)(uintptr_t)rl;
    }
    return rl;
}

void ratelimit_free(ratelimit_t *rl)
{
    struct bucket *b, *next;

    if (rl == NULL) {
        return;
    }
    for (b = rl->newest; b != NULL; b = next) {
        next = b->older;
        free(b);
    }
    pthread_mutex_destroy(&rl->mu);
    free(rl->slots);
    free(rl);
}

static void lru_unlink(ratelimit_t *rl, struct bucket *b)
{
    if (b->newer != NULL) {
        b->newer->older = b->older;
    } else {
        rl->newest = b->older;
    }
    if (b->older != NULL) {
        b->older->newer = b->newer;
    } else {
        rl->oldest = b->newer;
    }
    b->newer = b->older = NULL;
}

static void lru_push(ratelimit_t *rl, struct bucket *b)
{
    b->older = rl->newest;
    b->newer = NULL;
    if (rl->newest != NULL) {
        rl->newest->newer = b;
    }
    rl->newest = b;
    if (rl->oldest == NULL) {
        rl->oldest = b;
    }
}

static void evict_oldest(ratelimit_t *rl)
{
    struct bucket *victim = rl->oldest;
    struct bucket **pp = &rl->slots[victim->hash & (rl->nslots - 1)];

    while (*pp != victim) {
        pp = &(*pp)->chain;
    }
    *pp = victim->chain;
    lru_unlink(rl, victim);
    free(victim);
    rl->count--;
}

/* Finds key's bucket (moved to the LRU front) or makes a full one; NULL only on ENOMEM. */
static struct bucket *lookup(ratelimit_t *rl, const char *key, size_t len, int64_t now_ms)
{
    uint64_t h = key_hash(rl->seed, key, len);
    struct bucket **slot = &rl->slots[h & (rl->nslots - 1)];
    struct bucket *b;

    for (b = *slot; b != NULL; b = b->chain) {
        if (b->hash == h && strncmp(b->key, key, len) == 0 && b->key[len] == '\0') {
            lru_unlink(rl, b);
            lru_push(rl, b);
            return b;
        }
    }
    if (rl->count >= rl->max_keys) {
        evict_oldest(rl);
    }
    b = calloc(1, sizeof(*b) + len + 1);
    if (b == NULL) {
        return NULL;
    }
    memcpy(b->key, key, len);
    b->hash = h;
    b->tokens = rl->burst;
    b->last_ms = now_ms;
    b->chain = *slot;
    *slot = b;
    lru_push(rl, b);
    rl->count++;
    return b;
}

static void refill(const ratelimit_t *rl, struct bucket *b, int64_t now_ms)
{
    if (now_ms > b->last_ms) { /* a clock that steps back refills nothing */
        b->tokens += (double)(now_ms - b->last_ms) * rl->rate / 1000.0;
        if (b->tokens > rl->burst) {
            b->tokens = rl->burst;
        }
        b->last_ms = now_ms;
    }
}

static bool take_or_peek(ratelimit_t *rl, const char *key, int64_t now_ms, int *retry_after_s,
                         bool take)
{
    struct bucket *b;
    bool ok = false;
    double wait_s = 1;

    if (rl == NULL || key == NULL) {
        return false;
    }
    pthread_mutex_lock(&rl->mu);
    b = lookup(rl, key, strnlen(key, MESH_MAX_RATELIMIT_KEY), now_ms);
    if (b == NULL) {
        goto out; /* out of memory: refuse rather than track nothing */
    }
    refill(rl, b, now_ms);
    if (b->tokens >= 1.0) {
        b->tokens -= take ? 1.0 : 0.0;
        ok = true;
        goto out;
    }
    /* Time until the deficit refills: the earliest moment a retry can succeed. */
    wait_s = ceil((1.0 - b->tokens) / rl->rate);
out:
    pthread_mutex_unlock(&rl->mu);
    if (!ok && retry_after_s != NULL) {
        *retry_after_s = wait_s < 1 ? 1 : wait_s > RL_RETRY_MAX_S ? RL_RETRY_MAX_S : (int)wait_s;
    }
    return ok;
}

bool ratelimit_take(ratelimit_t *rl, const char *key, int64_t now_ms, int *retry_after_s)
{
    return take_or_peek(rl, key, now_ms, retry_after_s, true);
}

bool ratelimit_peek(ratelimit_t *rl, const char *key, int64_t now_ms, int *retry_after_s)
{
    return take_or_peek(rl, key, now_ms, retry_after_s, false);
}

size_t ratelimit_count(ratelimit_t *rl)
{
    size_t n;

    if (rl == NULL) {
        return 0;
    }
    pthread_mutex_lock(&rl->mu);
    n = rl->count;
    pthread_mutex_unlock(&rl->mu);
    return n;
}
