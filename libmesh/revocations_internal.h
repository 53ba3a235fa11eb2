/* SPDX-License-Identifier: Apache-2.0 */
/* The inside of mesh_revset_t, shared by revocations.c (the set) and revocations_feed.c (the
 * feed that fills it). Internal. */
#ifndef MESH_REVOCATIONS_INTERNAL_H
#define MESH_REVOCATIONS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "revocations.h"
#include "stripe.h"

#define REV_STRIPE_BITS 6
#define REV_STRIPES     (1 << REV_STRIPE_BITS)
#define REV_BUCKETS_MIN 8         /* per stripe, at first */
#define REV_BUCKETS_MAX (1 << 16) /* per stripe: 4M buckets in all, past MESH_MAX_REVOKED */
#define REV_LOAD        2         /* a stripe grows past 2 entries per bucket */

typedef struct rev_node {
    struct rev_node *next;
    uint64_t h;
    int64_t exp;
    int64_t iat_before; /* MESH_REV_SUB */
    uint32_t len;
    uint8_t kind;
    char key[];
} rev_node_t;

typedef struct {
    alignas(MESH_CACHELINE) pthread_rwlock_t lock;
    rev_node_t **buckets; /* nbuckets, a power of two */
    size_t nbuckets;
    size_t count;
} rev_stripe_t;

typedef enum { REV_COMPLETE = 0, REV_FULL, REV_PAGES, REV_UNREAD } rev_state_t;

struct mesh_revset {
    uint8_t key[MESH_REV_KINDS][16]; /* SipHash key per kind */
    rev_stripe_t stripes[REV_STRIPES];
    size_t nstripes; /* initialised */
    atomic_size_t count;
    atomic_size_t kind_count[MESH_REV_KINDS];
    atomic_size_t max;

    pthread_mutex_t poll_mu; /* one poll at a time; since below */
    int64_t since;

    atomic_int state; /* rev_state_t */
    pthread_mutex_t state_mu;
    char why[384]; /* under state_mu */
};

/* Records whether the set is complete, and why not (a detail message). */
void mesh_revset_mark(mesh_revset_t *s, rev_state_t state, const char *why);

#endif /* MESH_REVOCATIONS_INTERNAL_H */
