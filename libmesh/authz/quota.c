/* SPDX-License-Identifier: Apache-2.0 */
#include "quota.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/limits.h>

#include "secret.h"

#define PROBES 64 /* slots looked at for one key (linear probing) */

typedef struct {
    uint8_t key[16]; /* SHA-256 of route name, subject; all zero: never used */
    bool used;
    int64_t window; /* now / period of the current window */
    int64_t period;
    int64_t cur, prev;
} counter_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static counter_t *table; /* MESH_AUTHZ_MAX_RATE_KEYS slots, allocated at first use */

static void key_of(const char *route, const char *subject, uint8_t out[16])
{
    char buf[2 * MESH_MAX_OPT_STRING + 2];
    size_t a = strnlen(route, MESH_MAX_OPT_STRING), b = strnlen(subject, MESH_MAX_OPT_STRING);
    memcpy(buf, route, a);
    buf[a] = '\n'; /* no route name holds a newline */
    memcpy(buf + a + 1, subject, b);
    uint8_t h[32];
    if (!secret_sha256(buf, a + 1 + b, h)) {
        memset(h, 0xff, sizeof(h));
    }
    memcpy(out, h, 16);
}

/* The window's estimate after moving the counter to `now`. */
static int64_t roll(counter_t *c, const quota_t *q, int64_t now)
{
    int64_t w = now / q->period_s;
    if (c->period != q->period_s || w > c->window + 1) {
        c->prev = 0;
        c->cur = 0;
    } else if (w == c->window + 1) {
        c->prev = c->cur;
        c->cur = 0;
    }
    c->window = w;
    c->period = q->period_s;
    int64_t left = q->period_s - now % q->period_s; /* of the previous window, still in range */
    return c->prev * left / q->period_s + c->cur;
}

static counter_t *find(const uint8_t key[16], int64_t now)
{
    uint64_t h;
    memcpy(&h, key, sizeof(h));
    counter_t *spare = NULL;
    for (size_t i = 0; i < PROBES; i++) {
        counter_t *c = &table[(h + i) % MESH_AUTHZ_MAX_RATE_KEYS];
        if (c->used && memcmp(c->key, key, 16) == 0) {
            return c;
        }
        bool stale = c->used && c->period > 0 && now / c->period > c->window + 1;
        if (spare == NULL && (!c->used || stale)) {
            spare = c;
        }
        if (!c->used) {
            break; /* slots are never emptied: the key is not further on */
        }
    }
    if (spare != NULL) {
        memset(spare, 0, sizeof(*spare));
        memcpy(spare->key, key, 16);
        spare->used = true;
    }
    return spare;
}

static int64_t retry_of(const counter_t *c, const quota_t *q, int64_t now)
{
    int64_t elapsed = now % q->period_s;
    if (c->cur + 1 > q->n || c->prev == 0) {
        return q->period_s - elapsed;
    }
    /* prev * (period - elapsed - x) / period + cur + 1 <= n */
    int64_t x = q->period_s - elapsed - (q->n - 1 - c->cur) * q->period_s / c->prev;
    return x < 1 ? 1 : x;
}

static const quota_t *subject_quota(const route_t *r, const char *subject)
{
    for (size_t i = 0; i < r->n_per_subject; i++) {
        if (strcmp(r->quota_subjects[i], subject) == 0 || strcmp(r->quota_subjects[i], "*") == 0) {
            return &r->per_subject[i]; /* "*" is last */
        }
    }
    return NULL;
}

quota_verdict_t quota_take(const route_t *r, const char *subject, int64_t now, int64_t *retry_after)
{
    const quota_t *qs[2] = {r->per_route.n > 0 ? &r->per_route : NULL, subject_quota(r, subject)};
    if (qs[0] == NULL && qs[1] == NULL) {
        return QUOTA_OK;
    }
    uint8_t keys[2][16];
    key_of(r->name, "", keys[0]);
    key_of(r->name, subject, keys[1]);
    keys[1][0] ^= 0x80; /* never the per-route key, even for an empty subject */
    pthread_mutex_lock(&lock);
    if (table == NULL && (table = calloc(MESH_AUTHZ_MAX_RATE_KEYS, sizeof(*table))) == NULL) {
        pthread_mutex_unlock(&lock);
        return QUOTA_FULL;
    }
    counter_t *cs[2] = {NULL, NULL};
    quota_verdict_t v = QUOTA_OK;
    for (int i = 0; i < 2 && v == QUOTA_OK; i++) {
        if (qs[i] == NULL) {
            continue;
        }
        if ((cs[i] = find(keys[i], now)) == NULL) {
            v = QUOTA_FULL;
        } else if (roll(cs[i], qs[i], now) + 1 > qs[i]->n) {
            *retry_after = retry_of(cs[i], qs[i], now);
            v = QUOTA_LIMITED;
        }
    }
    for (int i = 0; i < 2 && v == QUOTA_OK; i++) {
        if (cs[i] != NULL) {
            cs[i]->cur++;
        }
    }
    pthread_mutex_unlock(&lock);
    return v;
}

void quota_reset(void)
{
    pthread_mutex_lock(&lock);
    free(table);
    table = NULL;
    pthread_mutex_unlock(&lock);
}
