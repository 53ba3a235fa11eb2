/* SPDX-License-Identifier: Apache-2.0 */
/* The inside of mesh_verifier_t, shared by verifier.c (the object, its thread) and verify.c
 * (mesh_verify itself). Internal. */
#ifndef MESH_VERIFIER_INTERNAL_H
#define MESH_VERIFIER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <mesh/verifier.h>

#include "http.h"
#include "jwks_cache.h"
#include "revocations.h"
#include "stripe.h"
#include "token_cache.h"

#define STAT_STRIPES 16
#define CERT_MEMO_MAX 4096

typedef struct {
    alignas(MESH_CACHELINE) atomic_uint_fast64_t verified;
    atomic_uint_fast64_t rejected;
    atomic_uint_fast64_t cache_hits;
} stat_stripe_t;

struct mesh_verifier {
    mesh_verifier_opts_t o;
    char *issuer, *audience, *location, *ca_path, *cert_path, *key_path;
    char *feed_url;
    mesh_http_t *http;
    mesh_jwks_cache_t *keys;
    mesh_revset_t *revoked;
    mesh_tcache_t *cache;
    stat_stripe_t stats[STAT_STRIPES];

    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu; /* background thread state below */
    pthread_cond_t cv;
    bool stop;
    atomic_uint_fast64_t polls;
};

/* The verifier's clock (seconds). */
int64_t mesh_verifier_now(const mesh_verifier_t *v);

/* The revocation callback handed to jwt.c (ctx is the verifier). */
bool mesh_verifier_is_revoked(void *ctx, const char *jti);

#endif /* MESH_VERIFIER_INTERNAL_H */
